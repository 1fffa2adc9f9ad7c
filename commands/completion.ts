import { UsageError, type ExitCode } from '../src/errors.js';

/** The command tree as the completion scripts need it: each path and the flags it takes. */
export interface CompletionNode {
  path: string;
  subcommands: string[];
  flags: string[];
}

export interface CompletionTree {
  nodes: CompletionNode[];
  /** Flags that take a value: after one, its choices, else file names. */
  valueFlags: string[];
  choices: Record<string, string[]>;
}

/** `agentkeys completion bash|zsh|fish`: a script to source, generated from the real command tree. */
export async function runCompletion(shell: string | undefined, tree: CompletionTree): Promise<ExitCode> {
  const script =
    shell === 'bash'
      ? bashScript(tree)
      : shell === 'zsh'
        ? zshScript(tree)
        : shell === 'fish'
          ? fishScript(tree)
          : undefined;
  if (!script)
    throw new UsageError({
      code: 'SHELL_UNKNOWN',
      message: `"${shell ?? ''}" is not bash, zsh or fish`,
      hint: 'agentkeys completion bash > /etc/bash_completion.d/agentkeys',
    });
  process.stdout.write(script);
  return 0;
}

function bashScript(tree: CompletionTree): string {
  const cases = tree.nodes
    .map((n) => `    "${n.path}") words="${[...n.subcommands, ...n.flags].join(' ')}" ;;`)
    .join('\n');
  const choices = Object.entries(tree.choices)
    .map(([flag, values]) => `    ${flag}) COMPREPLY=( $(compgen -W "${values.join(' ')}" -- "$cur") ); return ;;`)
    .join('\n');
  const valueFlags = tree.valueFlags.filter((f) => !(f in tree.choices)).join('|');
  const known = tree.nodes
    .map((n) => n.path)
    .filter(Boolean)
    .map((p) => `"${p}"`)
    .join('|');
  return `# agentkeys completion for bash: source this file, or put it in /etc/bash_completion.d/
_agentkeys() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" path="" w i words=""
  # After a flag that takes a value: its choices, or nothing here so bash offers file names.
  case "$prev" in
${choices}
    ${valueFlags}) COMPREPLY=(); return ;;
  esac
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "\${path:+$path }$w" in
      ${known}) path="\${path:+$path }$w" ;;
    esac
  done
  case "$path" in
${cases}
  esac
  COMPREPLY=( $(compgen -W "$words" -- "$cur") )
}
complete -o default -F _agentkeys agentkeys
`;
}

function zshScript(tree: CompletionTree): string {
  return `#compdef agentkeys
# agentkeys completion for zsh (bash's, through bashcompinit): source this file from ~/.zshrc
autoload -U +X bashcompinit && bashcompinit
${bashScript(tree)}`;
}

function fishScript(tree: CompletionTree): string {
  const lines = [
    '# agentkeys completion for fish: save as ~/.config/fish/completions/agentkeys.fish',
    'complete -c agentkeys -f',
  ];
  for (const node of tree.nodes) {
    const words = node.path.split(' ').filter(Boolean);
    const cond =
      words.length === 0 ? '__fish_use_subcommand' : `__fish_seen_subcommand_from ${words[words.length - 1]}`;
    if (node.subcommands.length) lines.push(`complete -c agentkeys -n '${cond}' -a '${node.subcommands.join(' ')}'`);
    for (const flag of node.flags) lines.push(`complete -c agentkeys -n '${cond}' -l ${flag.replace(/^--/, '')}`);
  }
  for (const [flag, values] of Object.entries(tree.choices))
    lines.push(`complete -c agentkeys -l ${flag.replace(/^--/, '')} -x -a '${values.join(' ')}'`);
  // Any other flag that takes a value completes file names.
  for (const flag of tree.valueFlags.filter((f) => !(f in tree.choices)))
    lines.push(`complete -c agentkeys -l ${flag.replace(/^--/, '')} -r -F`);
  return `${lines.join('\n')}\n`;
}
