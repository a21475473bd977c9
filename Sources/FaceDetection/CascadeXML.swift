import Foundation

/// A parse or validation failure of a cascade file, or a missing cascade: one line, naming the file.
public struct CascadeError: Error, CustomStringConvertible, Sendable {
  /// The message, one line.
  public let description: String
  /// An error with this message.
  public init(_ description: String) { self.description = description }
}

/// An element of OpenCV's FileStorage XML: its tag name, its child elements and its own text.
/// The format has no mixed content worth keeping, so text between children is simply concatenated.
final class FileStorageNode {
  let name: String
  var children: [FileStorageNode] = []
  var text: [UInt8] = []
  init(name: String) { self.name = name }

  func child(_ name: String) -> FileStorageNode? { children.first { $0.name == name } }

  /// The text as whitespace-separated numbers.
  func numbers() -> [Double]? {
    var out: [Double] = []
    var i = 0
    let n = text.count
    while i < n {
      while i < n, isSpace(text[i]) { i += 1 }
      if i == n { break }
      let start = i
      while i < n, !isSpace(text[i]) { i += 1 }
      guard let v = Double(String(decoding: text[start..<i], as: UTF8.self)) else { return nil }
      out.append(v)
    }
    return out
  }

  /// The text without surrounding whitespace.
  var trimmed: String {
    String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  }
}

@inline(__always) func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }

/// A tokenizer for the subset of XML that OpenCV's FileStorage writes: a declaration, comments,
/// elements with attributes (ignored), self-closing elements and text. No entities, CDATA or
/// namespaces (FileStorage never writes them for cascades). Bounded in depth and element count, so a
/// hostile file fails with an error instead of exhausting the stack or memory.
enum MiniXML {
  static let maxDepth = 64
  static let maxElements = 4_000_000

  static func parse(_ bytes: [UInt8]) throws -> FileStorageNode {
    let root = FileStorageNode(name: "")  // a document node holding the top-level element
    var stack: [FileStorageNode] = [root]
    var count = 0
    var i = 0
    let n = bytes.count

    func hasPrefix(_ p: String, at k: Int) -> Bool {
      let u = Array(p.utf8)
      return k + u.count <= n && bytes[k..<(k + u.count)].elementsEqual(u)
    }
    func skip(past terminator: String, from k: Int, what: String) throws -> Int {
      let t = Array(terminator.utf8)
      var j = k
      while j + t.count <= n {
        if bytes[j] == t[0] && bytes[j..<(j + t.count)].elementsEqual(t) { return j + t.count }
        j += 1
      }
      throw CascadeError("unterminated \(what)")
    }
    func isNameByte(_ c: UInt8) -> Bool {
      (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2D
        || c == 0x2E || c == 0x3A
    }

    while i < n {
      let c = bytes[i]
      if c != 0x3C {  // text up to the next '<'
        var j = i
        while j < n && bytes[j] != 0x3C { j += 1 }
        stack[stack.count - 1].text.append(contentsOf: bytes[i..<j])
        i = j
        continue
      }
      if hasPrefix("<!--", at: i) { i = try skip(past: "-->", from: i + 4, what: "comment"); continue }
      if hasPrefix("<?", at: i) { i = try skip(past: "?>", from: i + 2, what: "declaration"); continue }
      if hasPrefix("<!", at: i) { i = try skip(past: ">", from: i + 2, what: "declaration"); continue }
      if hasPrefix("</", at: i) {
        var j = i + 2
        while j < n && isNameByte(bytes[j]) { j += 1 }
        let name = String(decoding: bytes[(i + 2)..<j], as: UTF8.self)
        while j < n && isSpace(bytes[j]) { j += 1 }
        guard j < n && bytes[j] == 0x3E else { throw CascadeError("malformed closing tag </\(name)") }
        guard stack.count > 1, stack[stack.count - 1].name == name else {
          throw CascadeError("closing tag </\(name)> does not match <\(stack.last?.name ?? "")>")
        }
        stack.removeLast()
        i = j + 1
        continue
      }
      // An opening tag: name, then attributes (skipped, quoted values may contain '>'), then > or />.
      var j = i + 1
      while j < n && isNameByte(bytes[j]) { j += 1 }
      guard j > i + 1 else { throw CascadeError("malformed tag at byte \(i)") }
      let name = String(decoding: bytes[(i + 1)..<j], as: UTF8.self)
      var selfClosing = false
      while true {
        guard j < n else { throw CascadeError("unterminated tag <\(name)") }
        let b = bytes[j]
        if b == 0x22 || b == 0x27 {  // quoted attribute value
          j += 1
          while j < n && bytes[j] != b { j += 1 }
          j += 1
        } else if b == 0x3E {
          j += 1; break
        } else if b == 0x2F && j + 1 < n && bytes[j + 1] == 0x3E {
          selfClosing = true; j += 2; break
        } else {
          j += 1
        }
      }
      count += 1
      guard count <= maxElements else { throw CascadeError("more than \(maxElements) elements") }
      let e = FileStorageNode(name: name)
      stack[stack.count - 1].children.append(e)
      if !selfClosing {
        guard stack.count <= maxDepth else { throw CascadeError("elements nested deeper than \(maxDepth)") }
        stack.append(e)
      }
      i = j
    }
    guard stack.count == 1 else { throw CascadeError("unclosed element <\(stack[stack.count - 1].name)>") }
    return root
  }
}
