// Package filter is l2hub's fault policy: rules that match frames on a link
// and impair them (drop, loss, delay, reorder, duplicate, corrupt, rate,
// MTU), partitions between groups of ports, and link up/down schedules, all
// deterministic from a seed. A Policy implements hub.Policy. Its two front
// ends, the YAML file (Load, Parse; ParseSpec) and the quick-test flags
// (Flags), both write a Spec, the policy as written with every value parsed
// and every name checked; Compile turns a Spec into a Policy, applying the
// impairments' defaults (spec.go, the one place they are applied; the rate
// limiter's two values are named in build.go) and checking what needs more
// than one value (spec.go, with spec_match.go for a rule's match and
// spec_partition.go for partitions and link schedules). Errors name
// file:line:col and field (internal/yamlfile). Users read POLICY.md.
//
// Determinism (the README's D1). Every random draw comes from a stream keyed by
// (seed, from-port name, to-port name, rule name), hashed with SHA-256 into a
// PCG seed: per-frame draws (loss, duplicate) from that stream in order,
// per-copy draws (corrupt, reorder, jitter) from one derived from it, the
// frame's number and the copy's identity, a hash of the copy it was made
// from, the rule that made it and its number among that rule's copies of
// it (eval.copyRand, childID), so that the copies other rules make shift
// no rule's draws. Window counts, FIFO and reorder state, Gilbert–Elliott
// state and rate buckets are kept per (rule, link) too. So the k-th frame a rule
// evaluates on a link gets the same decision whatever other links carry, and
// a port that reconnects keeps its streams. Time is the core's: Decide is
// given the time since the hub started and never reads a clock. Partition
// triggers that count a rule's matches on all links are the one deliberate
// exception: they depend on the order of frames across links (a trigger can
// name one link to avoid that).
//
// Concurrency. A Policy is owned by the hub loop: Decide and the control
// hooks (StartPartition, HealPartition, HealAll, AddPartition, SetLink,
// AddRule, UpdateRule, RemoveRule, Describe) run on it and are not safe for
// concurrent use. Stats and Reads are safe from any goroutine, and so is
// ParseRule. A
// new policy file replaces the Policy whole: compile the new one (which
// fails whole or not at all) and swap it in on the loop; its streams and
// counters start fresh. One rule at a time may be added, updated or removed
// in place (edit.go): the other rules, partitions and links, counters and
// streams included, are left as they are, and the edited rule starts
// afresh on every link as if the policy had been loaded with it.
//
// Files. The Policy: policy.go (Policy, Decide, the control hooks), rule.go (a
// rule: its impairments' settings, its state per link, its random streams),
// impair.go (the impairments run on a frame), match.go (a compiled match),
// headers.go (a frame's headers, parsed once per Decide), toggle.go (partitions
// and links on and off over time), cut.go (Cut: a link cut while a copy
// waited), stats.go (Stats, Describe) and reads.go (what each rule reads of a
// frame). The Spec: spec.go (Spec, Compile, the defaults), spec_match.go and
// spec_partition.go (a match, partitions and schedules compiled) and build.go
// (bounds, the rate limiter's defaults, rules assembled). The front ends:
// yaml.go (Load, Parse, ParseSpec) with yaml_impair.go, yaml_match.go and
// yaml_partition.go (its sections), flags.go and flags_rule.go (Flags), and
// units.go (the values both parse). Edits: edit.go (one rule added, updated or
// removed) and edit_record.go (Edit: recorded in a capture, made again).
// changes.go says which versions decide differently; errors.go holds the
// sentinels and error types.
//
// Imports: hub (Policy's interface), packet (the frame parser) and
// internal/yamlfile.
package filter
