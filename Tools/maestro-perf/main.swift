print("perf")
