using System.CommandLine;
using System.Text.RegularExpressions;
using Rollout.Models;
using TorchSharp;

namespace Rollout.Cli;

/// <summary>The <c>--device</c> and <c>--dtype</c> options of the commands that load a model.</summary>
internal sealed partial class ModelPlacementOptions
{
    readonly Option<string> _device = CliOptions.Parsed("--device", "cpu|cuda|cuda:N",
        "cpu, or cuda / cuda:N where the CUDA build of libtorch is installed", "cpu", "cpu, cuda or cuda:N",
        (string token, out string device) => DeviceName().IsMatch(device = token));

    readonly Option<string> _dtype = CliOptions.Choice("--dtype", "the model's parameter and compute dtype", "float32", "bfloat16");

    /// <summary>Adds both options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(_device);
        command.Options.Add(_dtype);
    }

    /// <summary>The model options the command line asks for.</summary>
    /// <exception cref="UsageException">A CUDA device where this process cannot reach one.</exception>
    public ModelOptions Read(ParseResult result)
    {
        string device = result.GetRequiredValue(_device);
        // The syntax is checked while parsing; whether CUDA is there needs libtorch, loaded only to run.
        if (device != "cpu" && !torch.cuda.is_available())
            throw new UsageException($"--device {device}: CUDA is not available (this build links the CPU libtorch, or no GPU is visible)");
        return new ModelOptions
        {
            Device = torch.device(device),
            DType = result.GetRequiredValue(_dtype) == "bfloat16" ? torch.ScalarType.BFloat16 : torch.ScalarType.Float32,
        };
    }

    [GeneratedRegex(@"^(cpu|cuda|cuda:[0-9]+)$")]
    private static partial Regex DeviceName();
}
