/// Tarjan's algorithm with an explicit stack, so a graph of any depth cannot overflow the
/// call stack. Nodes are 0..<count; `successors(n)` lists the nodes n points at.
/// Components come out in reverse topological order of the edges: a component appears after
/// every component it points at.
public func stronglyConnectedComponents(count: Int, successors: (Int) -> [Int]) -> [[Int]] {
    var index = [Int](repeating: -1, count: count)
    var lowLink = [Int](repeating: 0, count: count)
    var onStack = [Bool](repeating: false, count: count)
    var stack: [Int] = []
    var components: [[Int]] = []
    var nextIndex = 0
    // Each frame is a node and how many of its successors were already visited.
    var frames: [(node: Int, successors: [Int], next: Int)] = []

    for start in 0..<count where index[start] < 0 {
        index[start] = nextIndex
        lowLink[start] = nextIndex
        nextIndex += 1
        stack.append(start)
        onStack[start] = true
        frames.append((start, successors(start), 0))

        while !frames.isEmpty {
            let top = frames.count - 1
            let node = frames[top].node
            if frames[top].next < frames[top].successors.count {
                let successor = frames[top].successors[frames[top].next]
                frames[top].next += 1
                if index[successor] < 0 {
                    index[successor] = nextIndex
                    lowLink[successor] = nextIndex
                    nextIndex += 1
                    stack.append(successor)
                    onStack[successor] = true
                    frames.append((successor, successors(successor), 0))
                } else if onStack[successor] {
                    lowLink[node] = min(lowLink[node], index[successor])
                }
                continue
            }
            // All successors done: close the node, and pass its low-link to the parent.
            frames.removeLast()
            if let parent = frames.last?.node { lowLink[parent] = min(lowLink[parent], lowLink[node]) }
            if lowLink[node] == index[node] {
                var component: [Int] = []
                while let member = stack.popLast() {
                    onStack[member] = false
                    component.append(member)
                    if member == node { break }
                }
                components.append(component)
            }
        }
    }
    return components
}
