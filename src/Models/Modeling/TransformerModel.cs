using Rollout.Models.Architectures;
using Rollout.Models.Checkpoints;
using Rollout.Models.Configuration;
using Rollout.Models.Layers;
using Rollout.Models.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Rollout.Models;

/// <summary>
/// A Llama-family decoder with a head. <see cref="Forward"/> turns a packed batch into hidden states
/// [T, hidden]; the head turns the rows asked for into logits or scores. Parameters carry the HF
/// checkpoint's names, so loading and weight updates are lookups by name. The same module serves
/// training (autograd on) and inference (under <c>torch.no_grad()</c>).
/// </summary>
public abstract class TransformerModel : nn.Module<ForwardBatch, Tensor>
{
#pragma warning disable IDE1006 // HF parameter names
    private protected readonly DecoderStack model;
#pragma warning restore IDE1006

    private protected TransformerModel(ModelConfig config, ModelOptions options) : base(config.Architecture)
    {
        config.Validate();
        if (options.BatchInvariant) BatchInvariant.BatchInvariantRequirements.Check(config, options);
        Config = config;
        Options = options;
        model = new DecoderStack(config, options);
    }

    /// <summary>The model's configuration.</summary>
    public ModelConfig Config { get; }

    /// <summary>Device and dtype of the parameters.</summary>
    public ModelOptions Options { get; }

    /// <summary>Creates the model an architecture names, with uninitialised parameters.</summary>
    /// <exception cref="UnsupportedArchitectureException">The architecture is not implemented.</exception>
    /// <exception cref="NotSupportedException"><see cref="CpuKernels.BatchInvariant"/> asked for where its kernels cannot run (device, dtype, CPU, a dimension).</exception>
    public static TransformerModel Create(ModelConfig config, ModelOptions? options = null)
    {
        options ??= new ModelOptions();
        ProcessPatches.ForModel(options);
        return ArchitectureRegistry.HeadOf(config.Architecture) switch
        {
            ModelHead.CausalLM => new CausalLanguageModel(config, options),
            ModelHead.SequenceClassification => new SequenceClassificationModel(config, options),
            var head => throw new UnsupportedArchitectureException(config.Architecture + $" ({head})", ArchitectureRegistry.Supported),
        };
    }

    /// <summary>
    /// Makes the packed inference copies of the weights now (<see cref="CpuKernels.Fast"/>),
    /// so that an engine counts their memory before sizing its KV cache and its first step does not pay for them.
    /// </summary>
    internal virtual void PrepareInference()
    {
        foreach (var module in modules())
            if (module is Layers.Linear linear) linear.PrepareInference();
    }

    /// <summary>Every product with a packed CPU copy of its weight, so a weight update can pack its new weights ahead.</summary>
    internal virtual IEnumerable<CpuPackedLinear> PackedProducts() => modules().OfType<Layers.Linear>().Select(l => l.Product);

    /// <summary>Hidden states [T, hidden] after the final norm.</summary>
    public override Tensor forward(ForwardBatch batch) => model.forward(batch);

    /// <summary>The same as <see cref="forward"/>.</summary>
    public Tensor Forward(ForwardBatch batch) => model.forward(batch);

    /// <summary>Every parameter by its module name (fused projections under their fused names).</summary>
    public IReadOnlyDictionary<string, Parameter> Parameters() =>
        named_parameters().ToDictionary(p => p.name, p => p.parameter);

    /// <summary>
    /// Every checkpoint tensor by its HF name, as a view into the parameter that holds it (the
    /// q/k/v and gate/up projections live fused): what loading, saving and weight updates use.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> CheckpointTensors() =>
        named_parameters().SelectMany(p => ParameterFusion.Split(p.name, p.parameter, Config)).ToDictionary(p => p.Key, p => p.Value);

    /// <summary>
    /// Copies every parameter from <paramref name="checkpoint"/>, converting dtype and moving to the
    /// model's device. Checks everything before copying anything, so a bad checkpoint leaves the model
    /// as it was.
    /// </summary>
    /// <exception cref="CheckpointFormatException">A tensor is missing, unexpected or of the wrong shape.</exception>
    public void LoadWeights(ICheckpointReader checkpoint) => WeightLoader.Load(this, checkpoint);

    /// <summary>Checkpoint tensor names this model reads nothing from and that are safe to ignore.</summary>
    internal virtual bool IgnoresCheckpointTensor(string name) => name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal);
}
