package pgrelay

import (
	"bufio"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// echoServer answers every line with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(c net.Conn, msg string) (string, error) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return line, err
}

func TestRelayDownAndUp(t *testing.T) {
	r, err := Start(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	c, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, err := roundTrip(c, "one"); err != nil || got != "one\n" {
		t.Fatalf("through the relay: %q, %v", got, err)
	}

	if err := r.Down(); err != nil {
		t.Fatal(err)
	}
	if _, err := roundTrip(c, "two"); err == nil {
		t.Error("a connection survived Down")
	}
	if _, err := net.Dial("tcp", r.Addr()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial while down = %v, want connection refused", err)
	}

	if err := r.Up(); err != nil {
		t.Fatal(err)
	}
	c2, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatalf("dial after Up: %v", err)
	}
	defer c2.Close()
	if got, err := roundTrip(c2, "three"); err != nil || got != "three\n" {
		t.Errorf("after Up: %q, %v", got, err)
	}
}
