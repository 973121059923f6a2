// Command syncer keeps Google Chat space memberships equal to what HR or
// directory exports say they should be.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"syscall"

	"github.com/syncer-dev/syncer/internal/gctune"
)

func main() {
	if os.Getenv("GOGC") == "" {
		// The desired state is held whole for the run; collecting earlier
		// than Go's default keeps the peak well under container limits at
		// no measurable cost in wall time. 1M memberships whose lists
		// carry no emails, on 2 cores, 2026-12-06: 348 MiB at 50 and
		// 316-319 at 35 (383-400 at 70 the day before); their second run,
		// identities from the cache, 460-468 at 50 and 423-426 at 35; wall
		// within the machine's noise, and page faults (system time) fewer
		// at 35. But 35% of a small heap is a collection every megabyte or
		// two, a third of a 10,000-membership run's start-up: the heap may
		// always grow by 32 MB (gctune). The emulator is the other way
		// round: its world is all long-lived, so each collection rescans
		// it for little garbage, and on a shared machine that CPU is taken
		// from the syncer being measured against it. GOGC overrides both.
		if len(os.Args) > 1 && os.Args[1] == "emulator" {
			debug.SetGCPercent(400)
		} else {
			gctune.Start(35, 32<<20)
		}
	}
	// A reader of stdout or stderr that goes away (syncer apply | head, a
	// log shipper that died) must not end a run midway as kill -9 would,
	// its lock held: the writes fail instead, and a report not written
	// fails the run.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signalContext()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// signalContext is cancelled on SIGINT or SIGTERM with the signal as its
// cause, so a report can say why the run stopped; and on SIGHUP (the
// terminal of a run started by hand was closed: killed outright, a run
// would leave its lock held and its report unwritten), unless the process
// started with it ignored (nohup): asking to be told of it would undo
// that. After the first signal the default handling is back: a second
// Ctrl-C ends the process at once; a second SIGHUP is ignored.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if !signal.Ignored(syscall.SIGHUP) {
		sigs = append(sigs, syscall.SIGHUP)
	}
	signal.Notify(ch, sigs...)
	go func() {
		select {
		case sig := <-ch:
			if slices.Contains(sigs, os.Signal(syscall.SIGHUP)) {
				// A hang-up may come twice (the shell passes it on, then
				// the session ends): the second must not kill the run
				// that is stopping.
				signal.Ignore(syscall.SIGHUP)
			}
			signal.Stop(ch)
			name := "SIGTERM"
			switch sig {
			case os.Interrupt:
				name = "SIGINT"
			case syscall.SIGHUP:
				name = "SIGHUP"
			}
			cancel(fmt.Errorf("interrupted by %s", name))
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel(nil) }
}
