// Package atomicfile replaces small files so that a reader, or the file
// system after a crash, finds either the old content or the new, never a
// mix of both or an empty file. It owns the one way halun writes its
// configuration, generated serials and persistent reservations: write a
// temporary file in the same directory, fsync it, rename it over the
// target, fsync the directory. Every step's error is reported; on failure
// the temporary file is removed and the target is untouched.
package atomicfile
