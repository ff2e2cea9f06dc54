// Progressive enhancement: a "Copy" button on every install snippet. Without JavaScript the snippets stay
// selectable text.
for (const pre of document.querySelectorAll('pre[data-copy]')) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'secondary copy';
  button.textContent = 'Copy';
  button.setAttribute('aria-label', `Copy: ${pre.dataset.copy}`);
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(pre.textContent);
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Select and copy';
    }
    setTimeout(() => (button.textContent = 'Copy'), 2000);
  });
  pre.after(button);
}
