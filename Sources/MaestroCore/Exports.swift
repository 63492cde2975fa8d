// The engine's value types that Maestro's options, callbacks and view data use, re-exported so
// that `import Maestro` (or `import MaestroCore`) is enough to name them.
@_exported import struct Ensemble.Address
@_exported import struct Ensemble.EndpointID
@_exported import struct Ensemble.GroupID
@_exported import struct Ensemble.Parameters
@_exported import struct Ensemble.Time
@_exported import struct Ensemble.ViewID
@_exported import typealias Ensemble.Rank
@_exported import struct Ensemble.ParameterError
@_exported import enum Ensemble.ParameterCatalog
@_exported import protocol Ensemble.Transport
