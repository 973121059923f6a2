package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/syncer-dev/syncer/internal/auth"
	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/state"
)

// openState opens the run's state location: a local folder, or a Cloud
// Storage prefix reached with the run's own credentials.
func openState(ctx context.Context, cfg *config.Config, opts auth.Options) (state.Store, error) {
	if !cfg.State.InCloudStorage() {
		return &state.Dir{Path: cfg.State.Location}, nil
	}
	client := &http.Client{Transport: opts.Transport} // STORAGE_EMULATOR_HOST: no credentials
	if state.EmulatorHost() == "" {
		creds, err := storageCredentials(ctx, cfg, opts)
		if err != nil {
			return nil, err
		}
		if creds.Client != nil {
			client = creds.Client
		}
	}
	return state.NewGCS(ctx, cfg.State.Location, client, cfg.Limits.CallTimeout)
}

// storageCredentials are the run's own credentials with the Cloud Storage
// scope alone, and never on behalf of the Workspace user the syncer acts
// as: a bucket grants the service account (or the logged-in user) itself.
func storageCredentials(ctx context.Context, cfg *config.Config, opts auth.Options) (*auth.Credentials, error) {
	if cfg.Auth.Mode == "none" {
		return nil, errors.New("auth.mode none has no credentials for Cloud Storage (set STORAGE_EMULATOR_HOST for an emulator)")
	}
	a := cfg.Auth
	a.Subject = ""
	return auth.NewWithScopes(ctx, a, []string{auth.ScopeStorage}, opts)
}

// lockState takes the run lock in a Cloud Storage location (nil for a
// local one: the host's file lock covers it). Its lease is the run's
// deadline and a little more, so a crashed run's lock is taken over once
// it could no longer be running.
func lockState(ctx context.Context, cfg *config.Config, store state.Store, runID string, log *slog.Logger) (state.Lock, error) {
	g, ok := store.(*state.GCS)
	if !ok {
		return nil, nil
	}
	host, _ := os.Hostname()
	lease := cfg.Limits.RunTimeout + 30*time.Second
	lock, err := g.Lock(ctx, state.LockInfo{RunID: runID, Host: host, PID: os.Getpid(), Config: cfg.Path}, lease, nil)
	if err != nil {
		return nil, err
	}
	if old := state.TookOver(lock); old != nil {
		log.Warn(fmt.Sprintf("took over the run lock of run %s on %s (pid %d, started %s): its lease ended %s, so it crashed or was killed",
			old.RunID, old.Host, old.PID, old.Started.UTC().Format(time.RFC3339), old.LeaseEnds.UTC().Format(time.RFC3339)))
	}
	log.Debug("run lock taken", "lock", g.Where()+"/lock", "lease", lease.String())
	return lock, nil
}

// releaseState gives the lock back, even after the run's own context
// (run) has ended; a lock found taken is reported, never deleted. Once the
// run is stopped (a signal, run_timeout) it gets stoppedRelease at most:
// the run must end within 10 s of SIGTERM (a scheduler kills it then, the
// lock held all the same), and a bucket that stopped answering would
// otherwise keep it a whole call_timeout.
func releaseState(run context.Context, lock state.Lock, cfg *config.Config, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(run), cfg.Limits.CallTimeout)
	defer cancel()
	stop := context.AfterFunc(run, func() { time.AfterFunc(stoppedRelease, cancel) })
	defer stop()
	if err := lock.Release(ctx); err != nil {
		log.Error("the run lock was not released", "error", err.Error())
	}
}

// stoppedRelease bounds the lock's release in a stopped run: with the 5 s
// calls in flight get and the identity cache's 2 s, the run still ends
// within 10 s of SIGTERM. A healthy bucket answers in a fraction of it.
const stoppedRelease = 3 * time.Second
