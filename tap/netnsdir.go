package tap

// NetnsDir is where named network namespaces live, as `ip netns` keeps
// them: each is a file bind-mounted onto a namespace. (A name in a spec,
// on any system, means a file here.)
const NetnsDir = "/run/netns"
