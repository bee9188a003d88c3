package mrt

import (
	"path/filepath"
	"regexp"
	"strings"
)

var (
	collectorRe  = regexp.MustCompile(`^(?:routeviews\.)?(rrc\d\d|route-views[\w.-]*?)(\.(updates|rib|bview)\b|$)`)
	archiveDirRe = regexp.MustCompile(`^(\d{4}\.\d{2}|UPDATES|RIBS|bgpdata)$`)
)

// CollectorName guesses the collector of an archive from its path, so the
// consecutive files of one collector share one Update.Source: a RIS or
// RouteViews name in the file name ("rrc01.updates.20100827.0840.gz",
// "route-views.jinx.updates.1427846400.bz2") or in a directory
// ("rrc06/2015.04/updates...", "route-views2/bgpdata/..."); otherwise the
// name of the directory holding the file ("updates.20080224.1839.bz2" in
// "routeviews2-2008-youtube-hijack/"), and for a file in the current
// directory, the file name.
func CollectorName(path string) string {
	clean := filepath.ToSlash(filepath.Clean(path))
	parts := strings.Split(clean, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if m := collectorRe.FindStringSubmatch(parts[i]); m != nil {
			return m[1]
		}
	}
	if len(parts) >= 2 {
		dir := parts[len(parts)-2]
		if dir != "." && dir != ".." && dir != "" {
			// Skip RIS/RouteViews date and kind directories.
			for i := len(parts) - 2; i >= 0; i-- {
				d := parts[i]
				if d == "" || d == "." || d == ".." {
					break
				}
				if archiveDirRe.MatchString(d) {
					continue
				}
				return d
			}
		}
	}
	return filepath.Base(path)
}
