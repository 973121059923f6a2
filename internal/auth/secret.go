package auth

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/oauth2/google"

	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/fsutil"
)

// maxSecretSize bounds a key, client or token file: they are a few KB.
const maxSecretSize = 1 << 20

// readSecret reads a key, OAuth client or token file, refusing one that
// isn't a regular file, is too big, or that others can read or write. The
// mode checked is the target's: a Kubernetes Secret is a symlink, and the
// link itself always looks world-readable. Group read is allowed, since a
// pod reads its Secret through fsGroup.
func readSecret(path, what string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, unwrapPathError(err))
	}
	if perm := st.Mode().Perm(); perm&0o027 != 0 && st.Mode().IsRegular() {
		how := "readable by others"
		if perm&0o004 == 0 {
			how = "writable by others"
		}
		return nil, fmt.Errorf("%s %s is %s (mode %#o); run chmod 600 %s", what, path, how, perm, path)
	}
	data, err := fsutil.ReadFile(path, maxSecretSize)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	return data, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// CheckFiles checks offline what a mode's files must be: present, regular,
// private and of the right kind. It reads no secret into an error.
func CheckFiles(a config.Auth) error {
	switch a.Mode {
	case "service-account", "app":
		_, _, err := readServiceAccountKey(a.CredentialsFile)
		return err
	case "oauth-user":
		data, err := readSecret(a.CredentialsFile, "OAuth client file")
		if err != nil {
			return err
		}
		if _, err := google.ConfigFromJSON(data); err != nil {
			return fmt.Errorf("%s is not an OAuth client file: %w", a.CredentialsFile, redact(err))
		}
		if err := cleartextTokenURI(data, a.CredentialsFile); err != nil {
			return err
		}
		if a.TokenFile == "" {
			return nil // not needed yet: auth login writes it
		}
		_, err = ReadToken(a.TokenFile)
		return err
	}
	return nil
}

// ActingEmail is the email of the user the syncer acts as: the subject of
// domain-wide delegation, or the user who ran auth login; "" for Chat app
// authentication; for mode none, auth.subject (an emulator acting as that
// user), or "". An oauth-user token that doesn't say is an
// error: policy sync must know whom never to remove.
func ActingEmail(a config.Auth) (string, error) {
	switch {
	case a.Mode == "oauth-user":
		email, err := TokenEmail(a.TokenFile)
		if err != nil {
			return "", err
		}
		if email == "" {
			return "", fmt.Errorf("token file %s doesn't say which user logged in; run syncer auth login again", a.TokenFile)
		}
		return email, nil
	case AppAuth(a):
		return "", nil
	case a.Mode == "none":
		// Against an emulator (--caller), auth.subject says whom the run
		// acts as, so the rails and the order of changes are as they would
		// be for that user.
		return strings.ToLower(strings.TrimSpace(a.Subject)), nil
	}
	return strings.ToLower(strings.TrimSpace(a.Subject)), nil
}
