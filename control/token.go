package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"l2hub/internal/ready"
)

// TokenEnv names the environment variable that serve, ctl and inject read
// the control token from when no flag gives one. A token given with
// --control-token shows in `ps` to every user; the variable and a token
// file do not.
const TokenEnv = "L2HUB_CONTROL_TOKEN"

// maxTokenFile bounds a token file: a token is a line of text.
const maxTokenFile = 4096

// ReadTokenFile reads a control token from the first line of a file that
// only its owner may read or write (as ssh asks of a private key): a token
// others can read protects nothing. The owner must be the caller or root
// (ErrNotYours): another user may read its own file, or chmod it open,
// whenever it likes, so it knows the token (or chose it; or root's
// redirect wrote a fresh one into the file that user made first). A pipe
// is read as a file is (/dev/stdin); a device or a directory is refused.
func ReadTokenFile(path string) (string, error) {
	return readTokenFile("control token file", TokenEnv, path)
}

// ReadTokenFileContext is ReadTokenFile that returns once ctx ends (with
// its cause), though the file blocks: a FIFO that no one writes, whose
// open waits for a writer. The read is abandoned, not stopped (see
// ReadContext).
func ReadTokenFileContext(ctx context.Context, path string) (string, error) {
	return ReadContext(ctx, func() (string, error) { return ReadTokenFile(path) })
}

// ReadContext runs read, which may block where ctx cannot reach it (the
// open of a FIFO that no one writes, a read of a terminal or a pipe), and
// returns what it returns, or ctx's cause once ctx ends first: the first
// Ctrl-C ends a command that waits there. With ctx ended already, read
// runs as it would without it.
//
// A read that ctx ends is abandoned, not stopped: it goes on in a
// goroutine of its own (and, blocked in open, an OS thread) until it
// returns, and what it returns is dropped; a read of stdin goes on
// consuming stdin meanwhile. That is fine for a command that exits next,
// as l2hub's do; a long-lived program that calls this (or a ...Context
// function built on it) with contexts that end holds one such read per
// call, and must not read the same input again meanwhile.
func ReadContext[T any](ctx context.Context, read func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	if ctx.Err() != nil {
		return read() // its answer is still the command's: a refusal, say, which a stop must not hide
	}
	done := make(chan result, 1)
	go func() {
		v, err := read()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, context.Cause(ctx)
	}
}

// readTokenFile is ReadTokenFile for a token file of any kind; what
// ("control token file") begins its errors, and env names the variable
// that gives the same token ($L2HUB_CONTROL_TOKEN), for a refusal's advice.
func readTokenFile(what, env, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if err := checkTokenFileKind(what, env, path, fi); err != nil {
		return "", err
	}
	if err := checkPrivate(what, env, path, fi); err != nil {
		return "", err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, path, err)
	}
	if len(data) > maxTokenFile {
		return "", fmt.Errorf("%s %s: larger than %d bytes; a token is one line", what, path, maxTokenFile)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	tok, err := CheckToken(line)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, path, err)
	}
	return tok, nil
}

// checkTokenFileKind refuses, for readTokenFile, a file (fi, at path)
// that holds no token of its own: a device (/dev/null, a terminal), a
// directory. Its mode says nothing about a token, so the refusal gives no
// chmod advice, which for a device would be harmful. A regular file and
// a pipe (`echo ... | serve --control-token-file /dev/stdin`, a named
// pipe) are taken.
func checkTokenFileKind(what, env, path string, fi fs.FileInfo) error {
	var kind string
	switch m := fi.Mode(); {
	case m.IsRegular(), m&fs.ModeNamedPipe != 0:
		return nil
	case m&fs.ModeDevice != 0: // block and character devices alike
		kind = "a device"
	case m.IsDir():
		kind = "a directory"
	default:
		kind = "not a regular file"
	}
	inEnv := ""
	if env != "" {
		inEnv = ", or in $" + env
	}
	return fmt.Errorf("%s %s is %s, not a token file: give the token in a file of mode 0600%s", what, path, kind, inEnv)
}

// checkPrivate refuses a file that holds a token (fi, at path) when
// another user than the caller and root owns it (ErrNotYours), or others
// may read or write it; what ("control token file") begins the error, and
// env names the variable that may give the token instead.
//
// A pipe belongs to the process that made it: `cat tok | sudo l2hub serve
// --control-token-file /dev/stdin` hands root a pipe of the invoking
// user's, refused as that user's file is, with advice that fits a pipe.
func checkPrivate(what, env, path string, fi fs.FileInfo) error {
	if uid, ok := fileOwner(fi); ok && !trusted(uid) {
		yours := "a file of your own"
		if os.Getuid() == 0 {
			yours = "a file root owns"
		}
		inEnv := "" // where the caller reads no variable, none is offered
		if env != "" {
			inEnv = ", or in $" + env
			if os.Getuid() == 0 { // most likely run through sudo, which drops it
				inEnv += " (through sudo: sudo --preserve-env=" + env + ")"
			}
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s %s %w (a pipe or device of %s; you are uid %d): whoever wrote to it may have chosen the token; "+
				"give the token in %s, of mode 0600%s",
				what, path, ErrNotYours, ready.Who(uid), os.Getuid(), yours, inEnv)
		}
		return fmt.Errorf("%s %s %w (%s; you are uid %d): that user may know the token, or have chosen it; "+
			"give the token in %s, of mode 0600%s",
			what, path, ErrNotYours, ready.Who(uid), os.Getuid(), yours, inEnv)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s %s has mode %04o: other users can read it; chmod 600 %s", what, path, perm, path)
	}
	return nil
}

// CheckPrivateFile refuses a file that holds a control token, as a token
// file is refused: when another user than the caller and root owns it
// (ErrNotYours), or others may read or write it. what ("config file")
// begins the error; env is the variable the caller would take the token
// from instead ("" if it reads none: the error offers none). serve and lab
// check a file that gives control_token so.
func CheckPrivateFile(what, env, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return checkPrivate(what, env, path, fi)
}

// MinTokenLen is the fewest characters of a token that guards a TCP
// control address or a metrics address other than loopback: 16 random
// base64 characters are 96 bits, beyond guessing over plain HTTP.
// README's recipe (24 random bytes in base64) gives 32.
const MinTokenLen = 16

// CheckTokenLen refuses a token (not "": none) shorter than MinTokenLen;
// what, which begins the error, names the token and, when the caller
// knows, where it came from ("control token from $L2HUB_CONTROL_TOKEN").
func CheckTokenLen(what, token string) error {
	if token != "" && len(token) < MinTokenLen {
		return fmt.Errorf("%s: %w: it has %d characters, want at least %d; make one with: umask 077; head -c 24 /dev/urandom | base64 > FILE",
			what, ErrShortToken, len(token), MinTokenLen)
	}
	return nil
}

// CheckToken trims a token and checks that it can travel in an HTTP
// header: not empty, printable ASCII without spaces.
func CheckToken(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("the token is empty")
	}
	for _, r := range s {
		if r <= ' ' || r > '~' {
			return "", errors.New("the token has a space, control or non-ASCII character")
		}
	}
	return s, nil
}

// ResolveToken is the token a command was given: value (--control-token),
// else the file's (--control-token-file), else $L2HUB_CONTROL_TOKEN's; ""
// if none is given. Giving both value and file is an error.
func ResolveToken(value, file string) (string, error) {
	return ResolveTokenContext(context.Background(), value, file)
}

// ResolveTokenContext is ResolveToken that returns once ctx ends, though
// the file blocks (ReadTokenFileContext; the read is abandoned, not
// stopped: see ReadContext).
func ResolveTokenContext(ctx context.Context, value, file string) (string, error) {
	switch {
	case value != "" && file != "":
		return "", errors.New("give --control-token or --control-token-file, not both")
	case value != "":
		tok, err := CheckToken(value)
		if err != nil {
			return "", fmt.Errorf("--control-token: %w", err)
		}
		return tok, nil
	case file != "":
		return ReadTokenFileContext(ctx, file)
	}
	if env := os.Getenv(TokenEnv); env != "" {
		tok, err := CheckToken(env)
		if err != nil {
			return "", fmt.Errorf("$%s: %w", TokenEnv, err)
		}
		return tok, nil
	}
	return "", nil
}

// TokenFlags are the flags a command is given the control token with:
// --control-token-file and --control-token ($L2HUB_CONTROL_TOKEN when
// neither is set).
type TokenFlags struct{ Value, File string }

// Register adds the flags with a flag set's StringVar (pflag's or the
// standard library's).
func (f *TokenFlags) Register(stringVar func(p *string, name, value, usage string)) {
	stringVar(&f.File, "control-token-file", "", "the control API's bearer token, from `file` (mode 0600; default $"+TokenEnv+"); a TCP control address needs one")
	stringVar(&f.Value, "control-token", "", "the control API's bearer token (visible to every user in ps: prefer --control-token-file or $"+TokenEnv+")")
}

// Token is the token the flags (or $L2HUB_CONTROL_TOKEN) give, as
// ResolveToken resolves it.
func (f *TokenFlags) Token() (string, error) { return ResolveToken(f.Value, f.File) }

// TokenContext is Token that returns once ctx ends, though the token file
// blocks (a FIFO that no one writes): a command's first Ctrl-C ends it.
// The read is abandoned, not stopped (see ReadContext).
func (f *TokenFlags) TokenContext(ctx context.Context) (string, error) {
	return ResolveTokenContext(ctx, f.Value, f.File)
}
