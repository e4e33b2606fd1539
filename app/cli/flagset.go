package cli

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// predict parses its own flags with the standard flag package (predict.go);
// these helpers keep its help in the same --flag style as cobra's and its
// flags accepted after its inputs.

func newFlagSet(st *State, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(st.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(st.Stderr, "Usage:\n  pipeline %s\n\nFlags:\n", synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			arg, usage := flag.UnquoteUsage(f)
			if arg != "" {
				arg = " " + arg
			}
			def := ""
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(st.Stderr, "      --%-18s %s%s\n", f.Name+arg, usage, def)
		})
		fmt.Fprintf(st.Stderr, "\nExit codes:\n%s\n", exitsPredict)
	}
	return fs
}

// parse parses flags that may come before or after positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	return ExitUsage
}

// withoutGlobals drops the global flags cobra hands a command that parses
// its own (they may stand before the command name: pipeline --quiet predict).
func withoutGlobals(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || a == "-" {
			out = append(out, a)
			continue
		}
		switch name {
		case "quiet", "q":
			continue
		case "workdir", "log-format":
			if !hasValue {
				i++
			}
			continue
		}
		out = append(out, a)
	}
	return out
}

func newPredictCmd(st *State) *cobra.Command {
	return &cobra.Command{
		Use:                "predict --model DIR [--top 3] [--format text|json|csv] INPUT...",
		Short:              "genres of poster images (files, folders, URLs) from a trained model",
		DisableFlagParsing: true, // predict.go parses its own flags
		Annotations:        map[string]string{"exits": exitsPredict},
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := cmdPredict(st, withoutGlobals(args)); code != ExitOK {
				return exitWith(code, nil)
			}
			return nil
		},
	}
}
