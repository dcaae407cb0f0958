package control_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"l2hub/control"
	"l2hub/filter"
	"l2hub/serve"
	"l2hub/transport"
)

// A test drives a hub from Go: here one runs in-process (serve.Run, what
// l2hub serve runs), with its control API on a socket in a directory of
// the test's; a hub started by l2hub serve is driven the same way,
// control.NewClient(addr, token) with its --control address.
func ExampleClient() {
	dir, err := os.MkdirTemp("", "l2hub-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := serve.DefaultConfig()
	cfg.Ports = []transport.Spec{
		{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:0"},
		{Name: "b", Transport: transport.TCP, Address: "127.0.0.1:0"},
	}
	cfg.Control = filepath.Join(dir, "ctl.sock")
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve.Run(ctx, cfg, serve.Options{}) }()
	defer func() { stop(); <-done }()

	c := control.NewClient(cfg.Control, "")
	for _, err := c.Ports(ctx); err != nil; _, err = c.Ports(ctx) {
		time.Sleep(10 * time.Millisecond) // until the hub answers
	}

	rule, err := c.AddRule(ctx, "loss-a-b", []byte("{match: {link: a->b}, loss: 5%}"), "")
	fmt.Println(rule.Name, rule.Match, rule.Actions, err)

	_, err = c.AddRule(ctx, "loss-a-b", []byte("{drop: true}"), "")
	fmt.Println(errors.Is(err, filter.ErrRuleExists), err)

	_, err = c.AddRule(ctx, "typo", []byte("{match: {link: a->c}, drop: true}"), "")
	fmt.Println(errors.Is(err, filter.ErrInvalid), err)

	rule, err = c.UpdateRule(ctx, "loss-a-b", []byte("{match: {link: a<->b}, delay: 20ms±5ms}"))
	fmt.Println(rule.Name, rule.Match, rule.Actions, err)

	if err := c.StartPartition(ctx, "split", [][]string{{"a"}, {"b"}}); err != nil {
		log.Fatal(err)
	}
	ports, err := c.Ports(ctx)
	for _, p := range ports {
		fmt.Println("port", p.Name, "link", p.Link, "partitions", p.Partitions, err)
	}
	if err := c.HealPartition(ctx, "split"); err != nil {
		log.Fatal(err)
	}

	policy, err := c.CurrentPolicy(ctx)
	for _, r := range policy.Rules {
		fmt.Println("rule", r.Name, "matched", r.Counters.Matched, err)
	}

	rule, err = c.RemoveRule(ctx, "loss-a-b")
	fmt.Println("removed", rule.Name, err)
	_, err = c.RemoveRule(ctx, "loss-a-b")
	fmt.Println(errors.Is(err, filter.ErrUnknownRule), err)

	// Output:
	// loss-a-b link=a->b [loss 5%] <nil>
	// true rule "loss-a-b": a rule of that name exists (update it, or remove it first)
	// true rule typo:1:16: match.link: port "c" does not exist (ports: a, b)
	// loss-a-b link=a<->b [delay 20ms±5ms uniform fifo] <nil>
	// port a link no-peer partitions [split] <nil>
	// port b link no-peer partitions [split] <nil>
	// rule loss-a-b matched 0 <nil>
	// removed loss-a-b <nil>
	// true rule "loss-a-b": no such rule (the policy has none)
}
