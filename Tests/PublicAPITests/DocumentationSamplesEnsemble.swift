// The samples of the articles that also need the engine (`import Ensemble`): see
// DocumentationSamples.swift.
import Ensemble
import Maestro

// Security.md
func keyedRendezvous(at address: Address, secret: [UInt8]) throws -> GossipServer {
    try GossipServer(reactor: Runtime.current.reactor, bind: address,
                     key: try GroupKey(secret: secret, protection: .encryption))
}
