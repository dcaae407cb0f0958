package loadgen

// PassThroughPolicy is the rule set of the policy scenarios (the targets'
// "pass-through rule set" and "5-rule policy"): every frame is matched
// against five rules, four of which look at headers the bench frames do not
// have and never match, and the last matches everything and only counts.
// No rule acts, so the policy costs evaluation time and nothing else.
const PassThroughPolicy = `seed: 1
rules:
  - {name: syn-drop, match: {protocol: tcp, tcp_flags: syn}, drop: true}
  - {name: dns-delay, match: {protocol: udp, dst_port: 53}, delay: 10ms}
  - {name: nope-corrupt, match: {payload: NOPE}, corrupt: 1%}
  - {name: lan-dup, match: {src_ip: 192.168.0.0/16}, duplicate: 1%}
  - {name: count-all}
`
