// `import Maestro` is all a daemon needs: the toolkit (MaestroCore: GroupMember, ClientServer,
// CSX, Message, options), the libev runtime and loop (Reactor: Runtime, IOWatcher, LoopTimer,
// SignalWatcher), and the engine's value types that options and callbacks use.
//
// MaestroCore imports the engine only and does no I/O; this module makes the libev runtime
// its default shell (Runtime+MaestroShell.swift).
@_exported import MaestroCore
@_exported import Reactor
