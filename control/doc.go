// Package control is l2hub's live control API: HTTP with JSON bodies, served
// on a unix socket by default (or TCP with a bearer token), and the client
// `l2hub ctl` uses.
//
//	GET    /v1/ports                   ports: peers, counters, link state, active partitions, remote VTEPs
//	GET    /v1/policy                  the policy in force
//	PUT    /v1/policy?name=FILE        replace it (validated whole; refused whole); application/yaml
//	GET    /v1/rules                   per-rule counters
//	POST   /v1/rules/{name}?before=R   add one rule (the policy file's syntax), last or before rule R; application/yaml
//	PUT    /v1/rules/{name}            replace it, in its place, counters kept; application/yaml
//	DELETE /v1/rules/{name}            remove it
//	POST   /v1/partitions              {"name": "p1", "groups": [["a"], ["b"]]}; no groups: start the policy's partition p1 (any name it holds: a flag's "a|b" too); application/json
//	DELETE /v1/partitions/{name}       heal
//	POST   /v1/links/{port}/{up|down}  set a port's link state
//	POST   /v1/inject/{port}           frames for the port's peer, each after a 4-byte length; application/octet-stream
//	GET    /metrics                    Prometheus metrics
//
// Who may steer the hub. The control API changes what VMs see, so it is
// closed to other local users and to web pages:
//   - The default socket (DefaultAddr) lives in a directory of its user's
//     with mode 0700, which Listen creates and checks; every socket file is
//     chmod 0600 whatever the umask. Server and Client check the other end's
//     credentials (SO_PEERCRED): the caller's own user or root, nobody
//     else, so a socket someone else bound at the path (squatting) gets no
//     request, and a connection made before the chmod gets no answer.
//   - A TCP address needs a token (Server.Token), given to the command by
//     a file or $L2HUB_CONTROL_TOKEN rather than on the command line, and
//     a loopback address: the API is plain HTTP, so the token would cross
//     a network in clear (Listen refuses any other unless
//     $L2HUB_CONTROL_ALLOW_REMOTE is 1; an SSH tunnel is the way to reach
//     a hub from elsewhere). Any local user may bind a loopback port the
//     hub does not hold, so Client, on Linux, asks the kernel for the
//     server's socket (NETLINK_SOCK_DIAG, else /proc/net/tcp) and checks
//     its owner as it checks a unix socket's, before it sends the token;
//     a server on another host, and any on other systems, is not checked,
//     and one on this host that cannot be checked is refused.
//   - Requests only a browser sends are refused: any Origin header, a Host
//     that is a name other than localhost (DNS rebinding), and on requests
//     that change something, a body type that a page may send without a CORS
//     preflight. Every such request names its Content-Type, as above.
//   - At most Server.MaxConns connections are held at once (and one more
//     accepted to wait for a place); the rest wait in the kernel's accept
//     queue and hold no file descriptor of the hub, and header, body and
//     idle timeouts free the places that slow clients hold. The server
//     reads each request's head itself: a request that passes the checks
//     above (the token, on TCP) claims its place until answered, and a
//     refused one's connection gives its place up once answered, its
//     body unread (even while net/http lingers before closing it).
//     When no place is free, a connection without a complete request gives
//     way to the newcomer, answered 503 (CodeBusy, "send it again", which
//     Client does): at once if it sent part of a request, or once it has
//     sent nothing for Server.FirstByteTimeout since it connected (on
//     Linux, time in the kernel's queue included, so a queue of silent
//     connections drains as fast as they can be accepted). A connection
//     whose request is waiting to be read never gives way. So connections
//     without the token (idle, trickling, or refused) cannot keep a client
//     with it out, however many are queued before it: it waits about
//     FirstByteTimeout at most, not for their timeouts. A flood of
//     connections slows the control plane, never the VMs' ports. But
//     FirstByteTimeout counts from the server's side of the connection: a
//     client whose request comes later, behind a tunnel whose round trip
//     is longer (ssh -L connects to the server a round trip before it
//     forwards the request), is turned away busy on every try while a
//     flood keeps every place taken; raise FirstByteTimeout for it.
//     Injection streams, which last as long as their captures, have
//     places of their own beyond MaxConns, Server.MaxInjections of them
//     (DefaultMaxInjections, 16), so that they cannot lock out the short
//     requests meant to end them; one more is answered 503 (CodeBusy),
//     unread, saying that it took no frame.
//
// Request bodies are bounded and validated: an empty rule, a partition
// without a name, a JSON body that gives a key twice (encoding/json would
// keep the last, matching keys whatever their case), or a policy upload
// that defines nothing (blank, {} or null) is refused (400) rather than
// applied; a policy that ends every fault says so, "rules: []". So is a
// policy name with a control character (CheckPolicyName), and a partition
// named . or .. (a URL cannot carry it). Every error's body, an unknown
// route's (404) and a wrong method's (405) included, is an ErrorResponse:
// what the hub refused, in its words, and for the refusals a program
// tells apart, a code (CodeUnknownRule, ...); Client returns it as an
// *Error that errors.Is matches against the sentinel it stands for
// (filter.ErrRuleExists, ...).
//
// Every answer to a request that passed the checks says which process
// serves the API (PIDHeader), and in which pid namespace
// (PIDNamespaceHeader), so that a client waiting for the hub it started
// tells it from another at the address (Client.WaitReadyPID); NotReady
// says why such a wait, or one for a ready file, ended unready.
//
// Rule edits (RuleEditor) change one rule and leave the rest of the policy
// as it is, other rules' counters and the capture's file included; the
// hub notes each in its log and in the capture. A whole new policy (PUT
// /v1/policy) replaces all of it and starts the capture's next file.
//
// The server holds no hub state itself: it calls a Target (serve.Session),
// typed with the hub's and the policy's own types, which runs each change
// on the hub loop, so a change is ordered with respect to frames. An
// injection into a Target that is an InjectFlow is held back like a VM
// sending to the port: the server reads the next frame of the stream only
// once the port has room, for at most the idle timeout per frame (a wait
// reads nothing, so it would not see the client go), and answers 409
// (CodeDropped) when the port dropped injected frames for flow control all
// the same. The client
// streams an injection with keepalives (Client.InjectStream), explains a
// hub's refusal (Client.Explain), reads a policy to send (ReadPolicyFile)
// and formats what ctl prints (WritePorts, RemovedText; NewPortsDocument and
// NewRulesDocument for --json). Client is the Go API for programs and tests
// that drive a hub (see its example). Server and Client are safe for
// concurrent use.
//
// MetricsServer serves GET (and HEAD) /metrics alone (l2hub serve
// --metrics), for Prometheus: read-only, with the same limits and
// web-page refusals, no token needed on a loopback address and a metrics
// token of its own (MetricsTokenEnv, ReadMetricsTokenFile) on any other;
// never the control token. A scrape during which the hub cannot be read
// fails (prometheus.NewInvalidMetric) rather than leave gaps.
//
// The JSON documents l2hub prints for scripts carry Schema, and give a
// policy's counters as PolicyCounters.
//
// Files. The server: server.go (Server, Target, Serve), routes.go (the routes
// and their answers), guard.go (who may reach them), body.go and jsonbody.go
// (request bodies), inject.go (the injection stream), state.go (what a ports
// request answers), slots.go and slotconn.go (the connection cap, with
// age_*.go and pending_*.go asking the kernel about a connection). Addresses
// and secrets: addr.go (ParseAddr, Listen), socket.go (the socket file and its
// directory), peer_*.go (the other end's user: SO_PEERCRED, NETLINK_SOCK_DIAG)
// and token.go (tokens and their files). The client: client.go (Client, how a
// call reaches the hub, WaitReady), client_routes.go (a call per route, the
// injection stream's included), dial.go (Dial: the client a command's
// --control and token flags name), waitflags.go (WaitFlags: `l2hub
// wait`), explain.go, notready.go, policysource.go and
// rulesource.go (what ctl sends), text.go and documents.go (what ctl prints, as
// text and as JSON) and counters.go (Schema, PolicyCounters). Metrics:
// metrics.go (the collectors) and metrics_server.go (MetricsServer). errors.go
// holds the sentinels.
//
// Imports: hub and filter (the types the API carries), internal/yamlfile,
// internal/ready (whether a process runs, and under which; wait's ready
// file), internal/unixpath (the longest socket path) and internal/jsondoc
// (wait's --json).
package control
