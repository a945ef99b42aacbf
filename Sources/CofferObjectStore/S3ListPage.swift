import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// One object in a listing.
public struct S3ObjectInfo: Sendable, Hashable {
    /// Its key, without the store's prefix.
    public let key: String
    /// Its size in bytes.
    public let size: Int64
}

/// One page of a listing (ListObjectsV2).
public struct S3ListPage: Sendable, Hashable {
    /// The objects, in key order.
    public let objects: [S3ObjectInfo]
    /// Where the next page starts, when there is one.
    public let continuationToken: String?
}

/// Reads a ListObjectsV2 answer and the `<Code>` of an S3 error answer.
final class S3XMLReader: NSObject, XMLParserDelegate {
    private var path: [String] = []
    private var text = ""
    private var key: String?
    private var size: Int64?
    private(set) var objects: [(key: String, size: Int64)] = []
    private(set) var nextToken: String?
    private(set) var truncated = false
    private(set) var code: String?

    /// Parses `data`; false when it is not well-formed XML.
    func parse(_ data: Data) -> Bool {
        let parser = XMLParser(data: data)
        parser.delegate = self
        return parser.parse()
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        path.append(name)
        text = ""
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        let parent = path.count >= 2 ? path[path.count - 2] : ""
        switch (parent, name) {
        case ("Contents", "Key"): key = text
        case ("Contents", "Size"): size = Int64(text)
        case (_, "Contents"):
            if let key, let size { objects.append((key, size)) }
            key = nil
            size = nil
        case (_, "NextContinuationToken"): nextToken = text
        case (_, "IsTruncated"): truncated = text == "true"
        case ("Error", "Code"): code = text
        default: break
        }
        path.removeLast()
        text = ""
    }
}
