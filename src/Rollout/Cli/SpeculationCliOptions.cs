using System.CommandLine;
using Rollout.Engine;
using Rollout.Models;
using Rollout.Models.Loading;

namespace Rollout.Cli;

/// <summary>The speculative-decoding options of the commands that generate: <c>--speculative-method</c> and its settings.</summary>
internal sealed class SpeculationCliOptions
{
    static readonly SpeculativeOptions Defaults = new();

    readonly Option<string> _method = CliOptions.Choice("--speculative-method",
        "speculative decoding: none, ngram (prompt lookup) or draft (a small model, --draft-model)", "none", "ngram", "draft");
    readonly Option<int> _tokens = CliOptions.Integer("--num-speculative-tokens", "K",
        $"most tokens proposed per sequence and step, at most {SpeculativeOptions.MaxSpeculativeTokens}", Defaults.NumSpeculativeTokens, min: 1);
    readonly Option<int> _ngramMin = CliOptions.Integer("--ngram-min", "N", "shortest suffix prompt lookup matches", Defaults.NGramMin, min: 1);
    readonly Option<int> _ngramMax = CliOptions.Integer("--ngram-max", "N", "longest suffix prompt lookup tries first", Defaults.NGramMax, min: 1);
    readonly Option<string> _draftModel = CliOptions.Text("--draft-model", "DIR|FILE.gguf", "the draft model of --speculative-method draft: same vocabulary as --model");

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { _method, _tokens, _ngramMin, _ngramMax, _draftModel }) command.Options.Add(option);
    }

    /// <summary>Checks the options against each other before anything loads; returns the draft model's path, if any.</summary>
    /// <exception cref="UsageException">A draft model without the draft method or the other way round, or settings out of range.</exception>
    public string? Validate(ParseResult result)
    {
        string method = result.GetRequiredValue(_method);
        string? path = result.GetValue(_draftModel);
        if (method == "draft" && path is null) throw new UsageException("--speculative-method draft needs --draft-model");
        if (method != "draft" && path is not null) throw new UsageException("--draft-model is used only with --speculative-method draft");
        if (method == "none" && Given(result, _tokens)) throw new UsageException("--num-speculative-tokens is used only with --speculative-method ngram or draft");
        foreach (var option in new[] { _ngramMin, _ngramMax })
            if (method != "ngram" && Given(result, option)) throw new UsageException($"{option.Name} is used only with --speculative-method ngram");
        int k = result.GetValue(_tokens);
        if (k > SpeculativeOptions.MaxSpeculativeTokens)
            throw new UsageException($"--num-speculative-tokens must be at most {SpeculativeOptions.MaxSpeculativeTokens}, not {k}");
        int min = result.GetValue(_ngramMin), max = result.GetValue(_ngramMax);
        if (max < min) throw new UsageException($"--ngram-max ({max}) must be at least --ngram-min ({min})");
        return path;
    }

    static bool Given(ParseResult result, Option option) => result.GetResult(option) is { Implicit: false };

    /// <summary>The speculation the command line asks for (checked by <see cref="Validate"/>), with <paramref name="draft"/> as its draft model; null for none.</summary>
    /// <exception cref="UsageException">A draft model that is no causal LM.</exception>
    public SpeculativeOptions? Read(ParseResult result, LoadedModel? draft)
    {
        string method = result.GetRequiredValue(_method);
        if (method == "none") return null;
        int k = result.GetValue(_tokens), min = result.GetValue(_ngramMin), max = result.GetValue(_ngramMax);
        if (method == "ngram") return new SpeculativeOptions { Method = SpeculativeMethod.NGram, NumSpeculativeTokens = k, NGramMin = min, NGramMax = max };
        if (draft?.Model is not CausalLanguageModel model)
            throw new UsageException($"--draft-model {draft?.Source} is a {draft?.Config.Architecture}: a draft must be a causal language model");
        return new SpeculativeOptions { Method = SpeculativeMethod.DraftModel, NumSpeculativeTokens = k, DraftModel = model };
    }
}
