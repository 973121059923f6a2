//go:build unix

package state

import (
	"errors"
	"os"
	"syscall"
)

const openNoFollow = syscall.O_NOFOLLOW | syscall.O_CLOEXEC

// tryLock takes f's exclusive lock if no one holds it.
func tryLock(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, syscall.EWOULDBLOCK), errors.Is(err, syscall.EINTR):
		return false, nil
	}
	return false, err
}
