import { UsageError, type ExitCode } from '../src/errors.js';

/** The command tree as the completion scripts need it: each path and the flags it takes. */
export interface CompletionNode {
  path: string;
  subcommands: string[];
  flags: string[];
}

/** `agentkeys completion bash|zsh|fish`: a script to source, generated from the real command tree. */
export async function runCompletion(shell: string | undefined, tree: CompletionNode[]): Promise<ExitCode> {
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

function bashScript(tree: CompletionNode[]): string {
  const cases = tree.map((n) => `    "${n.path}") words="${[...n.subcommands, ...n.flags].join(' ')}" ;;`).join('\n');
  const known = tree
    .map((n) => n.path)
    .filter(Boolean)
    .map((p) => `"${p}"`)
    .join('|');
  return `# agentkeys completion for bash: source this file, or put it in /etc/bash_completion.d/
_agentkeys() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" w i words=""
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

function zshScript(tree: CompletionNode[]): string {
  return `#compdef agentkeys
# agentkeys completion for zsh (bash's, through bashcompinit): source this file from ~/.zshrc
autoload -U +X bashcompinit && bashcompinit
${bashScript(tree)}`;
}

function fishScript(tree: CompletionNode[]): string {
  const lines = [
    '# agentkeys completion for fish: save as ~/.config/fish/completions/agentkeys.fish',
    'complete -c agentkeys -f',
  ];
  for (const node of tree) {
    const words = node.path.split(' ').filter(Boolean);
    const cond =
      words.length === 0 ? '__fish_use_subcommand' : `__fish_seen_subcommand_from ${words[words.length - 1]}`;
    if (node.subcommands.length) lines.push(`complete -c agentkeys -n '${cond}' -a '${node.subcommands.join(' ')}'`);
    for (const flag of node.flags) lines.push(`complete -c agentkeys -n '${cond}' -l ${flag.replace(/^--/, '')}`);
  }
  return `${lines.join('\n')}\n`;
}
