using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Rollout.Client.Engines;

namespace Rollout.Tests.Client;

/// <summary>Any sequence of groups starting and finishing: each new group goes to an engine with the fewest outstanding, all of it there.</summary>
public class LeastLoadedRouterProperties
{
    /// <summary>A group of this many sequences starts (positive), or the oldest running group finishes (0).</summary>
    static Arbitrary<(int Engines, int[] Ops)> Scenarios() =>
        (from engines in Gen.Choose(1, 4)
         from ops in Gen.OneOf(Gen.Choose(1, 8), Gen.Constant(0)).ArrayOf()
         select (engines, ops)).ToArbitrary();

    [Property(MaxTest = 200)]
    public Property Groups_go_whole_to_the_least_loaded_engine() => Prop.ForAll(Scenarios(), scenario =>
    {
        var router = new LeastLoadedRouter(scenario.Engines);
        var model = new int[scenario.Engines];
        var running = new Queue<(int Engine, int Sequences)>();
        foreach (int op in scenario.Ops)
        {
            if (op > 0)
            {
                int least = model.Min();
                int engine = router.Acquire(op);
                Assert.Equal(least, model[engine]);
                Assert.Equal(Array.IndexOf(model, least), engine);
                model[engine] += op;
                running.Enqueue((engine, op));
            }
            else if (running.TryDequeue(out var done))
            {
                router.Release(done.Engine, done.Sequences);
                model[done.Engine] -= done.Sequences;
            }
            Assert.Equal(model, router.Outstanding());
        }
    });
}
