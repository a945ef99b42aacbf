import ArgumentParser
import Coffer

/// Identifiers parse from the command line as they are; the library checks them before policy.
extension Identifier: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}
