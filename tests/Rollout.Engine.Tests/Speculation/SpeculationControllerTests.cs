using Rollout.Engine.Speculation;

namespace Rollout.Engine.Tests.Speculation;

public class SpeculationControllerTests
{
    /// <summary>Feeds the controller steps that generate tokens at the given rates; returns the share of steps it speculated in.</summary>
    static double SpeculatingShare(SpeculationController controller, int batch, double speculativeRate, double plainRate, int steps = 400)
    {
        int speculated = 0;
        for (int i = 0; i < steps; i++)
        {
            bool speculate = controller.ShouldSpeculate(batch);
            if (speculate) speculated++;
            controller.RecordDecodeStep(batch, speculate, (int)(speculate ? speculativeRate : plainRate), 1000);
        }
        return (double)speculated / steps;
    }

    [Fact]
    public void Speculation_stays_on_where_it_measures_faster_and_off_where_slower_with_occasional_probes()
    {
        var controller = new SpeculationController(new SpeculativeOptions());
        Assert.InRange(SpeculatingShare(controller, batch: 1, speculativeRate: 300, plainRate: 100), 0.9, 0.97);
        // Batches of 8 to 15 are their own class: slower there, so mostly off, whatever batch 1 measured.
        Assert.InRange(SpeculatingShare(controller, batch: 12, speculativeRate: 50, plainRate: 100), 0.03, 0.1);
        Assert.InRange(SpeculatingShare(controller, batch: 1, speculativeRate: 300, plainRate: 100), 0.9, 0.97);
    }

    [Fact]
    public void A_batch_past_the_limit_never_speculates_and_a_fixed_controller_always_does_below_it()
    {
        var controller = new SpeculationController(new SpeculativeOptions { MaxBatchSize = 4, Adaptive = false });
        Assert.False(controller.ShouldSpeculate(5));
        Assert.False(controller.ShouldSpeculate(0));
        Assert.Equal(1.0, SpeculatingShare(controller, batch: 4, speculativeRate: 1, plainRate: 100));
    }

    [Fact]
    public void Verification_counts_add_up()
    {
        var controller = new SpeculationController(new SpeculativeOptions());
        controller.RecordVerification(proposed: 4, accepted: 3);
        controller.RecordVerification(proposed: 2, accepted: 0);
        Assert.Equal(6, controller.Proposed);
        Assert.Equal(3, controller.Accepted);
        Assert.Equal(2, controller.VerifiedSequences);
    }
}
