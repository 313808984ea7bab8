package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/deployctl/deployctl/pkg/provider"
)

// CopyKey names backup.storage.copies[i] in messages.
func CopyKey(i int) string { return fmt.Sprintf("backup.storage.copies[%d]", i) }

// DecodeCopy fills target from backup.storage.copies[i] (its provider's
// settings; a copy takes no defaults from backup.storage).
func (l *Loaded) DecodeCopy(i int, target any) error {
	if i < 0 || i >= len(l.Backup.Storage.Copies) {
		return errorf("%s: %s does not exist", l.File, CopyKey(i))
	}
	return DecodeMap(l.Backup.Storage.Copies[i], target, l.File+": "+CopyKey(i))
}

// validateCopies checks each copy as its storage family's section, and
// min_copies against the number of stores.
func (l *Loaded) validateCopies(reg *provider.Registry) []string {
	var probs []string
	st := l.Backup.Storage
	for i, raw := range st.Copies {
		key := CopyKey(i)
		name, _ := raw["provider"].(string)
		if name == "" {
			probs = append(probs, key+": set provider (file, s3, …) and its settings")
			continue
		}
		fam, err := reg.StorageProvider(name)
		if err != nil {
			probs = append(probs, key+": "+err.Error())
			continue
		}
		s := fam.StorageConfig.Settings()
		known := map[string]bool{"provider": true}
		walk("", reflect.ValueOf(s), func(k string, _ reflect.Value) { known[k] = true })
		var keys []string
		for k := range raw {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !known[strings.ToLower(k)] {
				probs = append(probs, fmt.Sprintf("%s: unknown key %q for provider %s: it takes %s", key, k, name, strings.Join(knownNames(known), ", ")))
			}
		}
		if err := DecodeMap(raw, s, key); err != nil {
			probs = append(probs, err.Error())
			continue
		}
		if v, ok := s.(provider.Validator); ok {
			if err := v.Validate(); err != nil {
				probs = append(probs, key+": "+err.Error())
			}
		}
	}
	if n := 1 + len(st.Copies); st.MinCopies < 0 || st.MinCopies > n {
		probs = append(probs, fmt.Sprintf("backup.storage.min_copies %d must be between 1 and %d (backup.storage and its %d copies); leave it out for all", st.MinCopies, n, len(st.Copies)))
	}
	return probs
}
