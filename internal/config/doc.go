// Package config owns halun's configuration: the YAML schema, its defaults,
// the embedded default config, and validation that names file, line and field
// for every error, so the daemon never starts half-configured.
//
// Parsing (Load, Parse, Default) is pure: it reads the named file and nothing
// else. The steps with side effects, which the daemon runs after loading, are
// EnsureSerials, generating and persisting the serials the config leaves
// unset, and KeepIdentities, which records the SCSI identity (package
// identity) each volume is served with and refuses one that the same config
// would now give differently.
package config
