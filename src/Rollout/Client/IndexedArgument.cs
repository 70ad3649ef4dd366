namespace Rollout.Client;

/// <summary>Refusals of one item of a list argument, named as the caller wrote it (<c>prompts[3]: ...</c>).</summary>
internal static class IndexedArgument
{
    public static ArgumentException Error(string list, int index, ArgumentException inner) =>
        new($"{list}[{index}]: {inner.Message.Replace($" (Parameter '{inner.ParamName}')", "")}", list, inner);
}
