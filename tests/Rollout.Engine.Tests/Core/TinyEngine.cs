using Rollout.Engine.Core;
using Rollout.Models;
using Rollout.Models.Loading;
using Rollout.TestSupport;

namespace Rollout.Engine.Tests.Core;

/// <summary>Loads tiny test models once per process and builds engine cores over them.</summary>
internal static class TinyEngine
{
    static readonly Dictionary<(string, CpuKernels), LoadedModel> Loaded = [];

    public static LoadedModel Model(string architecture, CpuKernels kernels = CpuKernels.Fast)
    {
        lock (Loaded)
        {
            if (!Loaded.TryGetValue((architecture, kernels), out var model))
                Loaded[(architecture, kernels)] = model = ModelLoader.Load(TinyModels.Directory(architecture), new ModelOptions { CpuKernels = kernels });
            return model;
        }
    }

    public static EngineCore Core(string architecture, EngineOptions options, CpuKernels kernels = CpuKernels.Fast)
    {
        var model = Model(architecture, kernels);
        return new EngineCore((CausalLanguageModel)model.Model, model.Tokenizer, model.StopTokenIds, options);
    }
}
