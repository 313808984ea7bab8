package provider

import (
	"strings"
	"testing"
)

func TestRegistryFindsFamiliesByTheirSections(t *testing.T) {
	r := NewRegistry()
	r.Register(&Family{Name: "one", TrafficConfig: &Section{Name: "t-one"}, StorageConfig: &Section{Name: "s-one"}})
	r.Register(&Family{Name: "two", TrafficConfig: &Section{Name: "t-two"}})
	r.Register(&Family{Name: "three"}) // variables only
	if f, err := r.TrafficProvider("t-two"); err != nil || f.Name != "two" {
		t.Errorf("TrafficProvider(t-two) = %v, %v", f, err)
	}
	if f, err := r.StorageProvider("s-one"); err != nil || f.Name != "one" {
		t.Errorf("StorageProvider(s-one) = %v, %v", f, err)
	}
	_, err := r.TrafficProvider("one") // a family name is not a section name
	if err == nil || !strings.Contains(err.Error(), `traffic.provider "one" is not one of t-one, t-two`) {
		t.Errorf("unknown traffic provider: %v", err)
	}
	if _, err := r.StorageProvider("t-two"); err == nil || !strings.HasSuffix(err.Error(), "is not one of s-one") {
		t.Errorf("unknown storage provider: %v", err)
	}
	var names []string
	for _, s := range r.TrafficSections() {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "t-one,t-two" || len(r.StorageSections()) != 1 {
		t.Errorf("sections: %v, %d storage", names, len(r.StorageSections()))
	}
}
