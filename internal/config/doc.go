// Package config owns halun's configuration: the YAML schema, its defaults,
// the embedded default config, and validation that names file, line and field
// for every error, so the daemon never starts half-configured.
//
// Parsing (Load, Parse, Default) is pure: it reads the named file and nothing
// else. The one step with side effects, generating and persisting volume
// serials that the config leaves unset, is EnsureSerials, which the daemon
// calls after loading.
package config
