// The message tree of a session: every message names its parent (null at the root;
// messages from before branches answer the one before them).
export function buildTree(messages) {
  const byId = new Map();
  const children = new Map();
  messages.forEach((m, i) => {
    const parent = m.parent_id === undefined ? (messages[i - 1]?.id ?? null) : m.parent_id;
    const node = { ...m, parent_id: parent };
    byId.set(m.id, node);
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(node);
  });
  return { byId, children, newest: messages[messages.length - 1]?.id ?? null };
}

// Root to `leafId` (the newest message when null), oldest first.
export function pathTo(tree, leafId) {
  const path = [];
  let node = tree.byId.get(leafId ?? tree.newest);
  while (node) {
    path.unshift(node);
    node = node.parent_id === null ? null : tree.byId.get(node.parent_id);
  }
  return path;
}

export function siblingsOf(tree, message) {
  return (tree?.children.get(message.parent_id) || []).filter((m) => m.role === message.role);
}

// The newest message under `id`, following the newest child at each step: switching
// to a version shows its latest continuation.
export function newestLeaf(tree, id) {
  let current = id;
  for (;;) {
    const kids = tree.children.get(current);
    if (!kids?.length) return current;
    current = kids[kids.length - 1].id;
  }
}
