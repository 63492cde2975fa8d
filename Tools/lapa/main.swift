print("lapa: not yet")
