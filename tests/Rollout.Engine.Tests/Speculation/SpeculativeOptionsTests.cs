using Rollout.Engine.Core;
using Rollout.Engine.Tests.Core;
using Rollout.Models;

namespace Rollout.Engine.Tests.Speculation;

public class SpeculativeOptionsTests
{
    public static TheoryData<string, string> Invalid() => new()
    {
        { "k0", "NumSpeculativeTokens" },
        { "k16", "NumSpeculativeTokens" },
        { "nmin0", "NGramMin" },
        { "nmax<nmin", "NGramMax" },
        { "batch0", "MaxBatchSize" },
        { "draft-without-model", "DraftModel" },
        { "ngram-with-model", "DraftModel" },
        { "draft-other-vocab", "DraftModel" },
        { "draft-kv0", "DraftKvCacheBytes" },
    };

    static SpeculativeOptions Options(string which)
    {
        var draft = (CausalLanguageModel)TinyEngine.Model("LlamaForCausalLM").Model;
        return which switch
        {
            "k0" => new() { NumSpeculativeTokens = 0 },
            "k16" => new() { NumSpeculativeTokens = SpeculativeOptions.MaxSpeculativeTokens + 1 },
            "nmin0" => new() { NGramMin = 0 },
            "nmax<nmin" => new() { NGramMin = 3, NGramMax = 2 },
            "batch0" => new() { MaxBatchSize = 0 },
            "draft-without-model" => new() { Method = SpeculativeMethod.DraftModel },
            "ngram-with-model" => new() { DraftModel = draft },
            "draft-other-vocab" => new() { Method = SpeculativeMethod.DraftModel, DraftModel = SmallerVocabulary() },
            "draft-kv0" => new() { Method = SpeculativeMethod.DraftModel, DraftModel = draft, DraftKvCacheBytes = 0 },
            _ => throw new ArgumentException(which),
        };
    }

    static CausalLanguageModel SmallerVocabulary() => (CausalLanguageModel)TransformerModel.Create(TinyEngine.Model("LlamaForCausalLM").Config with { VocabSize = 100 });

    [Theory]
    [MemberData(nameof(Invalid))]
    public void An_engine_refuses_invalid_speculation_options_naming_the_option(string which, string parameter)
    {
        var error = Assert.ThrowsAny<ArgumentException>(() =>
            TinyEngine.Core("Qwen3ForCausalLM", new EngineOptions { KvCacheBytes = 1 << 20, Speculation = Options(which) }));
        Assert.Equal(parameter, error.ParamName);
    }
}
