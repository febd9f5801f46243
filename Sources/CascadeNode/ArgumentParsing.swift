import NIOCore

/// Reading command arguments without building Strings on the hot path.
extension ByteBuffer {
    /// The argument upper-cased, for command names and option keywords (short: no allocation).
    var upperASCII: String {
        withUnsafeReadableBytes { bytes in
            String(unsafeUninitializedCapacity: bytes.count) { target in
                for index in 0..<bytes.count {
                    let byte = bytes[index]
                    target[index] = byte >= 97 && byte <= 122 ? byte - 32 : byte
                }
                return bytes.count
            }
        }
    }

    /// Case-insensitive comparison with an upper-case ASCII keyword.
    func equalsKeyword(_ keyword: StaticString) -> Bool {
        guard readableBytes == keyword.utf8CodeUnitCount else { return false }
        return withUnsafeReadableBytes { bytes in
            let expected = keyword.utf8Start
            for index in 0..<bytes.count {
                let byte = bytes[index]
                let upper = byte >= 97 && byte <= 122 ? byte - 32 : byte
                if upper != expected[index] { return false }
            }
            return true
        }
    }

    /// A decimal integer as Redis accepts it; nil when it is not one or overflows.
    var integerValue: Int? {
        withUnsafeReadableBytes { bytes -> Int? in
            guard !bytes.isEmpty, bytes.count <= 20 else { return nil }
            var index = 0
            var negative = false
            if bytes[0] == UInt8(ascii: "-") {
                negative = true
                index = 1
                guard bytes.count > 1 else { return nil }
            }
            var value = 0
            while index < bytes.count {
                let byte = bytes[index]
                guard byte >= 48 && byte <= 57 else { return nil }
                let (multiplied, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (added, overflow2) = multiplied.addingReportingOverflow(Int(byte - 48))
                guard !overflow1, !overflow2 else { return nil }
                value = added
                index += 1
            }
            return negative ? -value : value
        }
    }

    var text: String { String(buffer: self) }
}
