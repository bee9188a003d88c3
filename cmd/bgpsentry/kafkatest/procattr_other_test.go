//go:build !linux

package kafkatest

import "os/exec"

// dieWithParent: only Linux has a parent-death signal; elsewhere the
// tests' cleanups kill the children.
func dieWithParent(cmd *exec.Cmd) {}
