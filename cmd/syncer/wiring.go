package main

// What a run is built from: its throttle, credentials, clients and identity
// resolver, each from the config.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"time"

	"github.com/syncer-dev/syncer/internal/auth"
	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/identity"
	"github.com/syncer-dev/syncer/internal/job"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/metrics"
	"github.com/syncer-dev/syncer/internal/scrub"
	"github.com/syncer-dev/syncer/internal/state"
	"github.com/syncer-dev/syncer/internal/throttle"
)

// newThrottle builds the run's one throttle from the config's limits.
func newThrottle(cfg *config.Config) *throttle.Throttle {
	l := cfg.Limits
	return throttle.New(throttle.Limits{
		ProjectWritesPerMinute: l.ProjectWritesPerMinute,
		ProjectReadsPerMinute:  l.ProjectReadsPerMinute,
		SpaceReadsPerSecond:    l.SpaceReadsPerSecond,
		SpaceWritesPerSecond:   l.SpaceWritesPerSecond,
		SpaceInfoPerMinute:     l.ProjectSpaceReadsPerMinute,
		DirectoryPerMinute:     l.DirectoryPerMinute,
		Headroom:               l.Headroom,
		Window:                 l.QuotaWindow,
		MaxAttempts:            l.MaxAttempts,
		CallTimeout:            l.CallTimeout,
	})
}

// authOptions carry every request, token requests included, through the
// metered base transport, with the config's call deadline.
func authOptions(cfg *config.Config, m *metrics.Metrics) auth.Options {
	return auth.Options{Transport: m.Transport(baseTransport), CallTimeout: cfg.Limits.CallTimeout}
}

func newRunID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func namesApp(d membership.Desired) bool {
	for _, s := range d.Spaces {
		for _, m := range s.Members {
			if m.Principal == membership.App {
				return true
			}
		}
	}
	return false
}

// need is what a run asks of its credentials.
func need(cfg *config.Config, write bool) auth.Need {
	return auth.Need{Write: write, Admin: cfg.API.UseAdminAccess, Directory: directoryEnabled(cfg)}
}

// directoryEnabled: app authentication can't read the Directory.
func directoryEnabled(cfg *config.Config) bool {
	return cfg.Identity.Directory && !auth.AppAuth(cfg.Auth) || cfg.Identity.Directory && cfg.Auth.Mode == "none"
}

// newResolver builds identity resolution: Directory lookups (own quota)
// when enabled, membership reads, and the cache file when configured. It
// also returns the Directory client, for expanding rules (nil when off).
func newResolver(ctx context.Context, cfg *config.Config, creds *auth.Credentials, api *chatapi.Client, th *throttle.Throttle, log *slog.Logger,
	opts auth.Options, desired membership.Desired, store state.Store) (*identity.Resolver, *chatapi.Directory, error) {
	r := &identity.Resolver{Members: api, Throttle: th, Logger: log, Domains: cfg.Identity.Domains}
	var dir *chatapi.Directory
	if directoryEnabled(cfg) {
		endpoint := cfg.API.Endpoint
		if cfg.IsGoogleEndpoint() {
			endpoint = "" // the Directory lives at its own Google host
		}
		dirCreds, err := auth.NewWithScopes(ctx, cfg.Auth, directoryScopes(cfg, desired), opts)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: directory credentials: %w", cfg.Path, err)
		}
		client := dirCreds.Client
		if client == nil {
			client = &http.Client{Transport: opts.Transport}
		}
		if dir, err = chatapi.NewDirectory(ctx, endpoint, chatapi.Options{HTTPClient: client, QuotaWindow: cfg.Limits.QuotaWindow}); err != nil {
			return nil, nil, err
		}
		r.Directory = dir
		r.DirectoryThrottle = th
		r.Concurrency = cfg.Limits.CallsInFlight()
		r.DirectoryPerMinute = cfg.Limits.DirectoryPerMinute
		r.VerifyAbsence = cfg.API.UseAdminAccess // "not in the Directory" refuses a create there
	}
	// The identity cache lives with the rest of the state, unless an
	// older config names a file of its own (local state only).
	cacheStore, cacheName := store, identityCache
	if cfg.Identity.CacheFile != "" {
		cacheStore, cacheName = &state.Dir{Path: filepath.Dir(cfg.Identity.CacheFile)}, filepath.Base(cfg.Identity.CacheFile)
	}
	if cacheStore != nil {
		r.Cache = identity.OpenCacheFor(ctx, cacheStore, cacheName, job.APIOf(cfg), cfg.Identity.CacheTTL, time.Now, func(msg string) {
			log.Warn(msg)
			r.Notes = append(r.Notes, msg) // for the report too
		})
	}
	return r, dir, nil
}

func directoryScopes(cfg *config.Config, desired membership.Desired) []string {
	if cfg.Auth.Mode == "none" {
		return nil
	}
	scopes := []string{auth.ScopeDirectoryRead}
	// The group scopes only when a rule needs them.
	var group, members bool
	for _, s := range desired.Spaces {
		for _, r := range s.Rules {
			group = group || r.Kind == membership.RuleGroup
			members = members || r.Kind == membership.RuleGroupMembers
		}
		// Under sync, a group the sources want is listed, so that people in
		// the space through it are not taken for unwanted members.
		sync := s.Policy == config.PolicySync || s.Policy == "" && cfg.Policy == config.PolicySync
		members = members || sync && (slices.ContainsFunc(s.Members, func(m membership.DesiredMember) bool { return m.Principal.IsGroup() }) ||
			slices.ContainsFunc(s.Rules, func(r membership.Rule) bool { return r.Kind == membership.RuleGroup }))
	}
	if group {
		scopes = append(scopes, auth.ScopeDirectoryGroupRead)
	}
	if members {
		scopes = append(scopes, auth.ScopeDirectoryGroupMemberRead)
	}
	return scopes
}

// credentials refuses mode none against Google before anything else, then
// builds the credentials for the run. A client with no credentials (mode
// none) still goes through opts.Transport.
func credentials(ctx context.Context, cfg *config.Config, need auth.Need, opts auth.Options) (*auth.Credentials, error) {
	if cfg.Auth.Mode == "none" && cfg.IsGoogleEndpoint() {
		return nil, fmt.Errorf("%s: auth.mode none works only against an emulator; set api.endpoint (or --endpoint) to its URL, or choose a real auth mode", cfg.Path)
	}
	if cfg.Auth.Mode != "none" && auth.CleartextRemote(cfg.API.Endpoint) {
		// As checkOffline says for runs: auth check, export and serve's
		// readiness read send the token too.
		return nil, fmt.Errorf("%s: api.endpoint %s is http:// on another machine: auth.mode %s would send the access token there in clear; use https://, or a loopback address (127.0.0.1, localhost) for a local emulator", cfg.Path, scrub.URL(cfg.API.Endpoint), cfg.Auth.Mode)
	}
	creds, err := auth.New(ctx, cfg.Auth, need, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: auth.mode %s: %w", cfg.Path, cfg.Auth.Mode, err)
	}
	if creds.Client == nil {
		creds.Client = &http.Client{Transport: opts.Transport}
	}
	return creds, nil
}

func newChatClient(ctx context.Context, cfg *config.Config, creds *auth.Credentials) (*chatapi.Client, error) {
	return chatapi.New(ctx, chatapi.Options{
		Endpoint:       cfg.API.Endpoint,
		HTTPClient:     creds.Client,
		UseAdminAccess: cfg.API.UseAdminAccess,
		// Only user authentication may list invitations and groups; with it,
		// invited members count as present.
		ShowInvited: creds.UserAuth,
		ShowGroups:  creds.UserAuth,
		UserAgent:   "syncer/" + versionString(),
	})
}
