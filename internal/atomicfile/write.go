package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces the file at path with data, which ends with permissions
// perm (not reduced by the umask). A symbolic link at path is followed:
// the link stays and its target is replaced.
func Write(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, false)
}

// WriteKeepMode is Write for files a person may have set the permissions
// of: an existing file keeps its permissions, a new one gets perm.
func WriteKeepMode(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, true)
}

// syncFile is (*os.File).Sync; tests replace it to make a step fail.
var syncFile = (*os.File).Sync

func write(path string, data []byte, perm os.FileMode, keep bool) error {
	target, err := resolve(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if keep {
		if fi, err := os.Stat(target); err == nil {
			perm = fi.Mode().Perm()
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := replace(target, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// resolve follows a symbolic link at path; a path that does not exist yet
// is itself.
func resolve(path string) (string, error) {
	p, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		// A dangling link is replaced by the file, as before any link.
		return path, nil
	}
	return p, err
}

// replace does the steps; its errors name the step.
func replace(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	tmp := f.Name()
	fail := func(step string, err error) error {
		f.Close()
		if rerr := os.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return fmt.Errorf("%s: %w (and removing %s: %v)", step, err, tmp, rerr)
		}
		return fmt.Errorf("%s: %w", step, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail("write temporary file", err)
	}
	if err := f.Chmod(perm); err != nil {
		return fail("set permissions", err)
	}
	if err := syncFile(f); err != nil {
		return fail("fsync temporary file", err)
	}
	if err := f.Close(); err != nil {
		return fail("close temporary file", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail("rename into place", err)
	}
	// The new content is in place; the directory fsync makes the rename
	// itself durable. A failure here is reported: after a crash the old
	// content may come back.
	return syncDir(dir)
}

// Remove removes the file at path and fsyncs its directory, so that the
// removal survives a crash. A file that does not exist is not an error.
func Remove(path string) error {
	if err := os.Remove(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// syncDir fsyncs a directory, making the renames and removals in it
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory to fsync it: %w", err)
	}
	err = syncFile(d)
	if cerr := d.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// tempPattern matches the temporary files replace creates for a file
// named base.
func tempPattern(base string) string { return "." + base + ".tmp-*" }

// RemoveStale removes the temporary files a write of path left behind
// when the process died between creating and renaming them, and returns
// their names. Call it at start, before anything writes path.
func RemoveStale(path string) ([]string, error) {
	target, err := resolve(path)
	if err != nil {
		return nil, fmt.Errorf("remove stale temporary files of %s: %w", path, err)
	}
	return removeGlob(filepath.Join(filepath.Dir(target), tempPattern(filepath.Base(target))))
}

// RemoveStaleIn is RemoveStale for every file of dir, a directory only
// halun writes.
func RemoveStaleIn(dir string) ([]string, error) {
	return removeGlob(filepath.Join(dir, tempPattern("*")))
}

func removeGlob(pattern string) ([]string, error) {
	names, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("remove stale temporary files %s: %w", pattern, err)
	}
	var removed []string
	var errs []error
	for _, n := range names {
		if fi, err := os.Lstat(n); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if err := os.Remove(n); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove stale temporary file: %w", err))
			continue
		}
		removed = append(removed, n)
	}
	return removed, errors.Join(errs...)
}
