import ArgumentParser
import ToolSupport

/// `maestro-soak`: real-process soak tests of the group runtime.
@main
struct MaestroSoak: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maestro-soak",
        abstract: "Soak-test groups of real member processes over UDP.",
        discussion: """
            `maestro-soak member` runs one group member process, the unit the soak orchestrator \
            (and the integration tests) start, kill and restart.
            """,
        subcommands: [Member.self])
}
