// Package dashboard holds the browser dashboard: static files embedded into the binary, so
// `go build` alone yields a working site with nothing fetched from the internet.
package dashboard

import (
	"embed"
	"io/fs"
)

//go:embed site
var site embed.FS

// Site returns the dashboard's files, rooted at the site folder.
func Site() fs.FS {
	sub, err := fs.Sub(site, "site")
	if err != nil {
		panic(err) // the folder is embedded at build time
	}
	return sub
}
