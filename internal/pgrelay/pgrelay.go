// Package pgrelay is a TCP relay on 127.0.0.1 that a test switches off and on, to take a
// database (PostgreSQL, or any TCP server) away from the program under test and give it back
// without stopping the server itself, which other tests share.
package pgrelay

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Relay forwards every connection made to its address to a target address. Down makes the
// relay refuse new connections and cuts the current ones, as a database that stopped would;
// Up listens again on the same address. It is safe for concurrent use.
type Relay struct {
	target string
	addr   string

	mu     sync.Mutex
	ln     net.Listener // nil while down
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Start listens on a free port of 127.0.0.1 and forwards each connection to target, e.g.
// "127.0.0.1:5432".
func Start(target string) (*Relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("pgrelay: listen: %w", err)
	}
	r := &Relay{target: target, addr: ln.Addr().String(), conns: make(map[net.Conn]struct{})}
	r.serve(ln)
	return r, nil
}

// Addr is the relay's address, host:port; it stays the same across Down and Up.
func (r *Relay) Addr() string { return r.addr }

// Down closes the listener, so that new connections are refused, and every connection being
// relayed. It is a no-op when the relay is down already.
func (r *Relay) Down() error {
	r.mu.Lock()
	ln := r.ln
	r.ln = nil
	conns := r.conns
	r.conns = make(map[net.Conn]struct{})
	r.mu.Unlock()
	var err error
	if ln != nil {
		err = ln.Close()
	}
	for c := range conns {
		c.Close()
	}
	return err
}

// Up listens on the relay's address again. It is a no-op when the relay is up already.
func (r *Relay) Up() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("pgrelay: relay is closed")
	}
	if r.ln != nil {
		return nil
	}
	var ln net.Listener
	var err error
	// The port was ours a moment ago; give the kernel a little time if it still holds it.
	for attempt := 0; attempt < 50; attempt++ {
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("pgrelay: listen again on %s: %w", r.addr, err)
	}
	r.serveLocked(ln)
	return nil
}

// Close takes the relay down for good and waits for its goroutines.
func (r *Relay) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	err := r.Down()
	r.wg.Wait()
	return err
}

func (r *Relay) serve(ln net.Listener) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.serveLocked(ln)
}

func (r *Relay) serveLocked(ln net.Listener) {
	r.ln = ln
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Down
			}
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				r.relay(ln, c)
			}()
		}
	}()
}

// track registers c to be closed by Down, unless the listener that accepted the connection
// was closed meanwhile; it reports whether c was registered.
func (r *Relay) track(ln net.Listener, c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != ln {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *Relay) untrack(c net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns, c)
}

func (r *Relay) relay(ln net.Listener, client net.Conn) {
	defer client.Close()
	if !r.track(ln, client) {
		return
	}
	defer r.untrack(client)
	server, err := net.DialTimeout("tcp", r.target, 5*time.Second)
	if err != nil {
		return
	}
	defer server.Close()
	if !r.track(ln, server) {
		return
	}
	defer r.untrack(server)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		// One side ended: end the other, as a connection through no relay would.
		dst.Close()
		src.Close()
		done <- struct{}{}
	}
	go pipe(server, client)
	go pipe(client, server)
	<-done
	<-done
}
