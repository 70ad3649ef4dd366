using Rollout.Engine.Core;
using Rollout.Models;
using Rollout.Models.Loading;
using Rollout.TestSupport;

namespace Rollout.Engine.Tests.Core;

/// <summary>Loads tiny test models once per process and builds engine cores over them.</summary>
internal static class TinyEngine
{
    static readonly Dictionary<string, LoadedModel> Loaded = [];

    public static LoadedModel Model(string architecture)
    {
        lock (Loaded)
        {
            if (!Loaded.TryGetValue(architecture, out var model))
                Loaded[architecture] = model = ModelLoader.Load(TinyModels.Directory(architecture));
            return model;
        }
    }

    public static EngineCore Core(string architecture, EngineOptions options)
    {
        var model = Model(architecture);
        return new EngineCore((CausalLanguageModel)model.Model, model.Tokenizer, model.StopTokenIds, options);
    }
}
