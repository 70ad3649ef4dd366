using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Rollout.Engine;
using Rollout.Engine.Sampling;
using Rollout.Models;
using Rollout.Models.Generation;
using Rollout.Models.Loading;
using Rollout.WeightSync;
using Rollout.WeightSync.Channels;
using Rollout.WeightSync.Receiver;

namespace Rollout.Tests.WeightSync;

/// <summary>
/// Any interleaving of requests and weight updates: every greedy token is the one the weights its
/// version names compute from its prefix, and versions never go back within a completion. Updates here
/// use the policies under which a token's whole KV comes from one weight set (wait, abort, recompute);
/// keep, which goes on over older KV, is held to the version order alone.
/// </summary>
public class VersionTagProperties
{
    const int Versions = 3;
    const double NearTie = 1e-4;
    static readonly Lazy<LoadedModel[]> Weights = new(() => Enumerable.Range(0, Versions + 1).Select(v => WeightSets.Load(seed: 1234 + v)).ToArray());

    /// <summary>One step of a scenario: a request (prompt, tokens wanted) or an update (its policy), after a pause of a few milliseconds.</summary>
    public sealed record Op(bool Update, int[] Prompt, int MaxTokens, InFlightPolicy Policy, int PauseMs)
    {
        public override string ToString() => Update ? $"update {Policy} after {PauseMs} ms" : $"request [{string.Join(",", Prompt)}] x{MaxTokens} after {PauseMs} ms";
    }

    static Arbitrary<Op[]> Scenarios()
    {
        var request = from length in Gen.Choose(1, 12)
                      from prompt in Gen.Choose(3, 500).ArrayOf(length)
                      from maxTokens in Gen.Choose(2, 24)
                      from pause in Gen.Choose(0, 20)
                      select new Op(false, prompt, maxTokens, InFlightPolicy.Wait, pause);
        var update = from policy in Gen.Elements(InFlightPolicy.Wait, InFlightPolicy.Abort, InFlightPolicy.Recompute, InFlightPolicy.Keep)
                     from pause in Gen.Choose(0, 20)
                     select new Op(true, [], 0, policy, pause);
        return Gen.OneOf(request, request, update).ArrayOf().Select(ops => ops.Take(14).ToArray()).ToArbitrary();
    }

    [Property(MaxTest = 12)]
    public Property EveryTokenCarriesTheVersionOfTheWeightsThatComputedIt() => Prop.ForAll(Scenarios(), ops =>
    {
        using var served = WeightSets.Load(seed: 1234);
        using var engine = LlmEngine.Create(served, new EngineOptions { KvCacheBytes = 4 << 20, BlockSize = 8 });
        var receiver = new WeightReceiver(engine);
        var sender = new InProcessWeightSender(receiver);
        var running = new List<(int[] Prompt, Task<RequestOutput> Final)>();
        var keepVersions = new HashSet<long>();
        foreach (var op in ops)
        {
            Thread.Sleep(op.PauseMs);
            if (!op.Update)
            {
                running.Add((op.Prompt, engine.AddRequest(op.Prompt, new SamplingParams { Temperature = 0, MaxTokens = op.MaxTokens, IgnoreEos = true }).CompletionAsync()));
                continue;
            }
            if (receiver.Version == Versions) continue;
            long next = receiver.Version + 1;
            if (op.Policy == InFlightPolicy.Keep) keepVersions.Add(next);
            sender.PushAsync(WeightSets.Tensors(Weights.Value[next]), new PushOptions { InFlight = op.Policy }).GetAwaiter().GetResult();
        }
        foreach (var (prompt, final) in running)
        {
            var completion = final.GetAwaiter().GetResult().Outputs[0];
            var versions = completion.WeightVersions;
            for (int i = 1; i < versions.Count; i++)
                Assert.True(versions[i] >= versions[i - 1], $"versions go back: {string.Join(",", versions)}");
            Assert.All(versions, v => Assert.InRange(v, 0, receiver.Version));
            // Under keep a version's tokens may read older KV: only their order is checked.
            if (versions.Any(keepVersions.Contains) || versions.Distinct().Count() > 1 && keepVersions.Count > 0) continue;
            for (int i = 0; i < completion.TokenIds.Count; i++)
            {
                var model = (CausalLanguageModel)Weights.Value[versions[i]].Model;
                int[] prefix = [.. prompt, .. completion.TokenIds.Take(i)];
                var logits = new ReferenceGenerator(model, useKvCache: false).AllLogits(prefix);
                int last = prefix.Length - 1, best = 0;
                for (int c = 1; c < logits.GetLength(1); c++) if (logits[last, c] > logits[last, best]) best = c;
                Assert.True(best == completion.TokenIds[i] || logits[last, best] - logits[last, completion.TokenIds[i]] <= NearTie,
                    $"token {i} ({completion.TokenIds[i]}) is tagged version {versions[i]}, whose weights choose {best}");
            }
        }
    });
}
