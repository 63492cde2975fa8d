import Foundation
import Maestro
import Testing

/// The articles' code is compiled code: every ```swift block of the documentation catalogs
/// appears line for line (indentation aside) in DocumentationSamples*.swift or in the
/// getting-started daemon, and the getting-started article is that daemon, whole and in order.
/// A few samples also run here.
@Suite(.serialized) struct DocumentationSamplesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// The lines of `text` that are not blank, trimmed.
    static func lines(_ text: some StringProtocol) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The ```swift blocks of a Markdown file, package manifests left out (they are not
    /// compiled here).
    static func swiftBlocks(_ markdown: String) -> [String] {
        var blocks: [String] = []
        var current: [Substring]?
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line.trimmingCharacters(in: .whitespaces) == "```swift" {
                current = []
            } else if let c = current, line.trimmingCharacters(in: .whitespaces) == "```" {
                if !(c.first?.hasPrefix("// swift-tools-version") ?? false) { blocks.append(c.joined(separator: "\n")) }
                current = nil
            } else {
                current?.append(line)
            }
        }
        return blocks
    }

    static func articles() throws -> [(name: String, text: String)] {
        var found: [(String, String)] = []
        for catalog in ["Sources/Maestro/Maestro.docc", "Sources/Ensemble/Ensemble.docc"] {
            let dir = root.appendingPathComponent(catalog)
            for file in try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() where file.hasSuffix(".md") {
                found.append(("\(catalog)/\(file)", try text("\(catalog)/\(file)")))
            }
        }
        return found
    }

    @Test func everySwiftBlockIsCompiledCode() throws {
        let compiled = try ["Tests/PublicAPITests/DocumentationSamples.swift", "Tests/PublicAPITests/DocumentationSamplesEnsemble.swift",
                            "Tools/kv-example/main.swift"].map { Self.lines(try Self.text($0)) }
        let articles = try Self.articles()
        #expect(articles.count >= 8, "the catalogs' articles were found")
        var checked = 0
        for (name, markdown) in articles {
            for block in Self.swiftBlocks(markdown) {
                let wanted = Self.lines(block)
                let found = compiled.contains { source in
                    source.count >= wanted.count
                        && (0 ... source.count - wanted.count).contains { Array(source[$0 ..< $0 + wanted.count]) == wanted }
                }
                #expect(found, "a Swift block of \(name) is not in the compiled samples (DocumentationSamples.swift or Tools/kv-example):\n\(block)")
                checked += 1
            }
        }
        #expect(checked >= 15)
    }

    @Test func theGettingStartedArticleIsTheWholeDaemon() throws {
        let article = try Self.text("Sources/Maestro/Maestro.docc/GettingStarted.md")
        let shown = Self.swiftBlocks(article).flatMap { Self.lines($0) }
        let daemon = Self.lines(try Self.text("Tools/kv-example/main.swift"))
        #expect(shown == daemon, "GettingStarted.md's Swift blocks, in order, must be Tools/kv-example/main.swift")
    }

    @Test func theLoopInboxRunsWorkPostedFromAnotherThread() throws {
        let inbox = LoopInbox()
        let ran = Box()
        let thread = Thread { inbox.post { ran.value = true } }
        thread.start()
        #expect(Runtime.current.run(until: { ran.value }, timeout: .seconds(5)))
    }

    @Test func theLineReaderSplitsLinesAndStopsAtTheEnd() throws {
        var p: [Int32] = [0, 0]
        try #require(pipe(&p) == 0)
        defer { close(p[0]) }
        var got: [String] = []
        let reader = LineReader(fd: p[0]) { got.append($0) }
        let bytes = Array("one\ntwo\nthr".utf8)
        _ = write(p[1], bytes, bytes.count)
        #expect(Runtime.current.run(until: { got == ["one", "two"] }, timeout: .seconds(5)))
        _ = write(p[1], Array("ee\n".utf8), 3)
        close(p[1])
        #expect(Runtime.current.run(until: { got == ["one", "two", "three"] }, timeout: .seconds(5)))
        withExtendedLifetime(reader) {}
    }

    @Test func keyFilesMustBePrivateAndLongEnough() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("doc-key-\(UInt32.random(in: 0 ... .max))").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let secret = Array("0123456789abcdef0123456789abcdef".utf8)
        _ = FileManager.default.createFile(atPath: path, contents: Data(secret + [10]), attributes: [.posixPermissions: 0o644])
        #expect(throws: MaestroError.self) { try groupKey(fromFile: path) }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        #expect(try groupKey(fromFile: path) == secret, "the trailing newline is not part of the key")
        let ops = try securedOptions(keyFile: path)
        try ops.validate()
        #expect(try ops.stack().contains("Seqbb"))
        var unkeyed = ops
        unkeyed.encrypt = false
        #expect(throws: MaestroError.self, "Privacy asks for encryption") { try unkeyed.validate() }
    }

    @Test func optionsOfTheArticlesValidate() throws {
        _ = try tunedOptions()
        var ops = CSXOptions()
        ops.properties = "Vsync:Total:Primary"
        ops.gossip = ["localhost:\(try Runtime.current.rendezvous().port)"]
        #expect(try ops.stack().contains(":Primary:"))
        do {
            try CSX(ops).join()
            Issue.record("the Primary layer joined without primary_expected")
        } catch {
            #expect("\(error)".contains("primary_expected"), "join fails without primary_expected: \(error)")
        }
    }

    @Test func aTallyAppliesItsOwnAddOnceWithOrWithoutSelfDelivery() throws {
        for properties in ["Vsync", "Vsync:Total", "Vsync:Local"] {
            var ops = CSXOptions()
            ops.groupName = "doc-tally-\(UInt32.random(in: 0 ... .max))"
            ops.params = "fast"
            ops.properties = properties
            ops.gossip = ["localhost:\(try Runtime.current.rendezvous().port)"]
            let a = Tally(ops), b = Tally(ops)
            try a.join()
            try b.join()
            #expect(waitForGroup(of: 2, a) && waitForGroup(of: 2, b), "\(properties): one group of two")
            #expect(Runtime.current.run(until: { a.clsvState == .serverNormal && b.clsvState == .serverNormal }, timeout: .seconds(10)))
            #expect(a.selfDelivering == (properties != "Vsync"))
            a.add(5)
            #expect(Runtime.current.run(until: { a.total == 5 && b.total == 5 }, timeout: .seconds(10)), "\(properties)")
            Runtime.current.run(for: .milliseconds(100))
            #expect(a.total == 5 && b.total == 5, "\(properties): applied once at each member")
            a.leave()
            b.leave()
            _ = Runtime.current.run(until: { !a.isJoined && !b.isJoined }, timeout: .seconds(5))
        }
    }
}

/// A flag set from another thread and read on the loop's (the inbox's closure runs on the loop).
final class Box: @unchecked Sendable {
    var value = false
}
