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

    /// Numbers a node on first sight and starts visiting its successors.
    func discover(_ node: Int) {
        index[node] = nextIndex
        lowLink[node] = nextIndex
        nextIndex += 1
        stack.append(node)
        onStack[node] = true
        frames.append((node, successors(node), 0))
    }

    for start in 0..<count where index[start] < 0 {
        discover(start)

        while !frames.isEmpty {
            let top = frames.count - 1
            let node = frames[top].node
            if frames[top].next < frames[top].successors.count {
                let successor = frames[top].successors[frames[top].next]
                frames[top].next += 1
                if index[successor] < 0 {
                    discover(successor)
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
