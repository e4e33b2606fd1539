package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/postergenre/postergenre/train"
)

const exitsCalibrate = "  0 ok · 1 calibration failed (the cause is printed) · 2 usage error"

// newCalibrateCmd is `pipeline calibrate`: the poster detector for a model
// trained before the train stage calibrated one (train.Calibrate; the train
// stage runs the same at its end).
func newCalibrateCmd(st *State, g *globals) *cobra.Command {
	var modelDir, encDir string
	cmd := &cobra.Command{
		Use:   "calibrate --model DIR --encode DIR",
		Short: "fit a model's poster-or-not detector on its training posters (models trained before it existed)",
		Long: `Fits the poster-or-not detector of a model folder on the training posters of
the encode output it was trained on (its manifest sha256 must match model.json's),
sets the threshold so that 95% of its validation posters pass, writes
detector.bin and records the calibration in model.json. The train stage does
this itself; use this for models trained before it did.`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{"exits": exitsCalibrate},
		RunE: func(cmd *cobra.Command, args []string) error {
			if modelDir == "" || encDir == "" {
				return usageErrorf("calibrate: --model and --encode are required")
			}
			det, err := train.Calibrate(st.Ctx, modelDir, encDir, g.logger(st))
			if err != nil {
				return exitWith(ExitFailed, err)
			}
			fmt.Fprintf(st.Stdout, "%s: poster detector on %d training posters (dim %d in blocks %v); %.1f%% of %d validation posters pass (threshold %.4g)\n",
				modelDir, det.TrainPosters, det.Dim, det.Blocks, 100*det.ValidationPass, det.ValidationPosters, det.Threshold)
			return nil
		},
	}
	cmd.Flags().StringVar(&modelDir, "model", "", "model folder (a train output's model/)")
	cmd.Flags().StringVar(&encDir, "encode", "", "the encode output the model was trained on (its stage folder)")
	return cmd
}
