// placeholder
import ArgumentParser
struct MaestroKV: ParsableCommand { func run() throws {} }
