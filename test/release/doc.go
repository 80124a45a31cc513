// Package release tests `make release`'s output as an operator gets it:
// the host architecture's .deb is built, its contents and control data are
// read with dpkg-deb, it is unpacked, and the unpacked halun reports the
// version and commit it was built with; the binaries are checked to be
// static ELF files for their architecture.
package release
