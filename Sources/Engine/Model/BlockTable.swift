/// The blocks of one sequence in position order: position p lives in `blocks[p / blockSize]`, slot
/// `p % blockSize`. `count` positions are filled.
public struct BlockTable: Sendable, Equatable {
    public var blocks: [Int32]
    public var count: Int

    public init(blocks: [Int32] = [], count: Int = 0) {
        self.blocks = blocks
        self.count = count
    }
}
